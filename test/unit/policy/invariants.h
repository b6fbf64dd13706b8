// Invariants every plan must satisfy, checked with gtest assertions by the property tests
// (random snapshots) and the simulation tests (every pass of a multi-pass run):
//  - every queued task is started or pending, exactly once; held tasks never start;
//  - starts land on ready nodes of their group; no GPU or whole node is double-booked; a
//    node held for a task receives no start from a task behind it in queue order, except a
//    task whose time limit ends by the holder's reserved_start (EASY backfill), and nodes
//    held for a gang preemptor receive none at all;
//  - no (user, group, tier) quota is exceeded; fixed priorities start at their own tier;
//  - victims are of strictly lower effective tier, outside their minimum runtime, not
//    already suspending, each named once; over-limit victims are past their limit, of the
//    holder's tier or below, on its nodes; what is held for a preemptor is enough once its
//    victims and freeing tasks stop (gang-complete);
//  - no task waiting for nodes fits on free unreserved nodes, and no lower-tier start took
//    capacity a waiting higher-tier task could have used.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "scheduler/policy/types.h"

namespace hai::policy::testing {

void CheckInvariants(const Snapshot& snapshot, const PolicyConfig& config, const Plan& plan,
                     absl::Time now);

// Stable text forms, for determinism checks and failure messages.
std::string Serialize(const Plan& plan);
std::string Describe(const Snapshot& snapshot, const PolicyConfig& config, absl::Time now);

}  // namespace hai::policy::testing
