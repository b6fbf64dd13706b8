// The jupyter_notebook_config.py the manager writes for a dev container. Pure text
// generation, unit-tested.
//
// Authentication follows the owner's current users row (docs/security.md, "Jupyter"): the
// notebook's own token is disabled and a login handler takes a token (URL ?token=,
// "Authorization: token X" header, or the login form), or the signed login cookie holding a
// token's SHA-256, and asks haid about that hash on every request
// (POST $HAI_CONTROL_URL/v1/task/$HAI_ATTEMPT_ID/jupyter_access, authenticated with the
// attempt's task token from the server's environment). A yes is cached for
// kJupyterAccessCacheMs, so rotating the owner's token or disabling the owner locks the
// notebook within a second; haid unreachable = no access. The attempt's task token itself
// (its hash is in the file) opens only /api/status: the manager's readiness and activity
// probe. No plaintext secret is in the file, argv or the server's logs.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "manager/jupyter_info.h"

namespace hai::manager {

// How long the server trusts haid's yes for one token hash.
inline constexpr int kJupyterAccessCacheMs = 500;

// InvalidArgument when the hash is not 64 lowercase hex digits or the port is out of range
// (the values are written into Python source, so nothing else may pass).
absl::StatusOr<std::string> JupyterNotebookConfig(const JupyterPodInfo& info,
                                                  const std::string& probe_token_hash,
                                                  bool allow_root);

}  // namespace hai::manager
