// The state sets haid's and the manager's SQL filter on, generated from the enums of
// states.h so a query can never spell a set differently from the predicate it stands for:
// `WHERE a.state IN ` + OpenAttemptStatesSql(). test/unit/model checks them against the
// predicates and test/integration/store checks the schema's CHECK constraints against the
// enums' names.
#pragma once

#include <string>

namespace hai::model {

// "('queued','scheduled','starting','running')": IsOpen.
const std::string& OpenAttemptStatesSql();
// "('scheduled','starting','running')": HoldsNodes.
const std::string& HoldingAttemptStatesSql();
// "('created','starting','running')": IsLive(PodState).
const std::string& LivePodStatesSql();

}  // namespace hai::model
