// The jupyter_notebook_config.py the manager writes for a dev container. Pure text
// generation, unit-tested.
//
// Authentication without any plaintext secret on disk or in argv: the notebook's own token
// is disabled and a login handler accepts a token (URL ?token=, "Authorization: token X"
// header, or the login form) whose SHA-256 hex is one of the accepted hashes: the owner's
// users.token_hash (so the owner's API token opens it, as the issue asks) and this attempt's
// task-token hash (so the manager can poll /api/status for activity). Rotating the owner's
// token takes effect at the container's next start.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "manager/jupyter_info.h"

namespace hai::manager {

// InvalidArgument when a hash is not 64 lowercase hex digits or the port is out of range
// (the values are written into Python source, so nothing else may pass).
absl::StatusOr<std::string> JupyterNotebookConfig(const JupyterPodInfo& info,
                                                  const std::vector<std::string>& token_hashes,
                                                  bool allow_root);

}  // namespace hai::manager
