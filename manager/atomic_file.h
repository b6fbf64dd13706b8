// Whole-file writes that a concurrent reader (a polling manager, an adopting manager) never
// sees half done: write a temp file, fsync, rename over the target.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace hai::manager {

// Writes `content` to `path` atomically with permission bits `mode`.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content,
                                 mode_t mode);

}  // namespace hai::manager
