// Small per-attempt files under <data_dir>/run/<attempt_id>/ that a relaunched manager needs
// and Postgres cannot give back: the task token (only its hash is stored, yet ranks started
// after an adoption must get the same token as the adopted ones) and the rendezvous port.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hai::manager {

// The file's content without surrounding whitespace; nullopt when it does not exist.
std::optional<std::string> ReadRunFile(const std::string& path);
// Writes atomically (temp + rename) with mode 0600: the token is a credential.
absl::Status WriteRunFile(const std::string& path, const std::string& content);

// A TCP port that was free on 127.0.0.1 a moment ago (MASTER_PORT of the local runtime).
absl::StatusOr<int> PickFreePort();

}  // namespace hai::manager
