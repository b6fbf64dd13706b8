// The rank exit file: the one fact a rank supervisor leaves behind ("<code>\n", code = exit
// status or 128+signal). Written atomically (temp file + rename) so a manager polling it, or a
// new manager adopting the rank, never reads half a number.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hai::manager {

absl::Status WriteExitFile(const std::string& path, int code);
// nullopt when the file does not exist (the rank has not ended, or never recorded it).
absl::StatusOr<std::optional<int>> ReadExitFile(const std::string& path);

}  // namespace hai::manager
