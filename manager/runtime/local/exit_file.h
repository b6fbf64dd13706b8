// The rank exit file: the one fact a rank supervisor leaves behind ("<code>\n", code = exit
// status or 128+signal). Written atomically (temp file + rename) so a manager polling it, or a
// new manager adopting the rank, never reads half a number.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hai::manager {

// `reason`, when given, is a second line: why the command ended, in words (e.g. it was killed
// by a signal hai did not send); Poll reports it as PodStatus::reason.
// `self_inflicted` adds a third line "self-inflicted": the command was killed by a signal hai
// did not send (PodStatus::self_inflicted).
absl::Status WriteExitFile(const std::string& path, int code, const std::string& reason = "",
                           bool self_inflicted = false);
// nullopt when the file does not exist (the rank has not ended, or never recorded it).
absl::StatusOr<std::optional<int>> ReadExitFile(const std::string& path);
// The reason line of an exit file; "" when there is none.
std::string ReadExitReason(const std::string& path);
// Whether the exit file says the task ended itself (the "self-inflicted" line).
bool ReadExitSelfInflicted(const std::string& path);

}  // namespace hai::manager
