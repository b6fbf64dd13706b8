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
  // Filled by the manager (JupyterPod::Prepare) before the rank starts:
  std::string notebook_binary = "jupyter-notebook";
  int port = 0;             // the server's port: a free loopback port (local), fixed (Pod)
  std::string config_path;  // generated jupyter_notebook_config.py (0600)
  std::string state_dir;    // Jupyter's runtime/data/config dirs, per attempt
  std::string workspace;    // notebook root: <data_dir>/workspaces/<user>, kept across attempts
  // The server runs in a Pod of its own (Kubernetes runtime): it listens on every address of
  // the Pod, and the paths above are the mounts inside its container (the workspace volume,
  // the config ConfigMap, a scratch emptyDir), so the config names no path: the root is the
  // working directory, the workspace.
  bool in_pod = false;
};

}  // namespace hai::manager
