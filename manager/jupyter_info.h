// What the manager knows about a Jupyter dev container attempt (chains.kind = 'jupyter'):
// the resources from jupyter_containers, the owner's token hash (the owner's API token opens
// the notebook; only its hash is ever stored), and where the server runs. Plain data so the
// argv/env/config builders are unit-tested without starting anything (docs/jupyter.md).
#pragma once

#include <cstdint>
#include <string>

namespace hai::manager {

struct JupyterPodInfo {
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  std::string owner_token_hash;  // users.token_hash of the container's owner
  // Filled by the manager (JupyterPod::Prepare) before the rank starts:
  std::string notebook_binary = "jupyter-notebook";
  int port = 0;             // loopback port of the server (local runtime)
  std::string config_path;  // generated jupyter_notebook_config.py (0600)
  std::string state_dir;    // Jupyter's runtime/data/config dirs, per attempt
  std::string workspace;    // notebook root: <data_dir>/workspaces/<user>, kept across attempts
};

}  // namespace hai::manager
