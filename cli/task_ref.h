// TASK arguments: a chain id ("42") or, for the caller's own tasks, a name ("train").
#pragma once


#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hai/v1/task.pb.h"

namespace hai::cli {

// All digits -> chain id; anything else -> name. A name made only of digits cannot be
// addressed by name, so use the chain id (printed at submit) for such tasks.
absl::StatusOr<hai::v1::TaskRef> ParseTaskRef(absl::string_view text);

}  // namespace hai::cli
