// JupyterPod: the manager's part of running a Jupyter dev container (docs/jupyter.md).
// Prepare() (before the rank starts or is adopted) reads the container's row and fills
// AttemptInfo::jupyter so pod_env builds the argv, environment and working directory:
//   local runtime  one loopback port per attempt kept in the run directory (an adopting
//                  manager reuses it), the user's workspace under <data_dir>/workspaces/<user>
//                  (kept across stop and re-create), the notebook config written under the run
//                  directory;
//   Kubernetes     (in_pod) the fixed kubernetes.jupyter_port, the config shipped in the
//                  attempt's ConfigMap, the workspace volume (a PVC subPath <user> or a
//                  hostPath <dir>/<user>) and a scratch emptyDir for Jupyter's own state;
//                  ApplyTo() puts these into the rank's PodSpec.
// Tick() (every heartbeat) asks the server's /api/status at the runtime's ServiceHost() with
// the attempt's task token and reports where it serves, readiness and Jupyter's own
// last_activity to Postgres, where haid's idle culler reads them. The manager observes; haid
// decides.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/attempt_info.h"
#include "manager/attempt_store.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::manager {

// Jupyter's timestamps ("2026-12-01T19:40:00.123456Z", also with +00:00); nullopt if bad.
std::optional<absl::Time> ParseJupyterTime(const std::string& text);

// last_activity of a /api/status reply body; nullopt when absent or unparsable.
std::optional<absl::Time> LastActivityFromStatus(const std::string& body);

// Asks a Jupyter server's /api/status at host:port with the task token: the body of a 200
// reply, nullopt while it does not answer. The default (HttpStatusProbe) speaks HTTP; the
// lifecycle's unit tests inject a scripted one.
using JupyterStatusProbe = std::function<std::optional<std::string>(
    const std::string& host, int port, const std::string& token)>;
JupyterStatusProbe HttpStatusProbe();

struct JupyterPodOptions {
  std::string notebook_binary = "jupyter-notebook";  // jupyter.notebook_binary
  std::vector<std::string> gpu_sharing_groups;       // jupyter.gpu_sharing_groups
  // Kubernetes runtime: the server runs in its own Pod (kubernetes.jupyter_* keys).
  bool in_pod = false;
  int pod_port = 8888;
  std::string image;  // of a container that names none; "" = the runtime's default image
  std::string workspace_pvc;
  std::string workspace_host_path = "/var/lib/hai/workspaces";
  JupyterStatusProbe probe;  // empty: HttpStatusProbe()
};

// Paths inside a Jupyter container's Pod.
inline constexpr char kPodWorkspace[] = "/hai/workspace";  // the workspace volume
inline constexpr char kPodConfigDir[] = "/hai/config";     // the files ConfigMap
inline constexpr char kPodStateDir[] = "/hai/jupyter";     // scratch emptyDir
inline constexpr char kConfigFileName[] = "jupyter_notebook_config.py";

// The workspace volume of `user`'s containers in a Pod: the PVC with subPath <user>, else the
// hostPath <workspace_host_path>/<user> (created on the node when missing).
storage::Mount PodWorkspaceMount(const JupyterPodOptions& options, const std::string& user);

class JupyterPod {
 public:
  // `info` is the claimed attempt; on success info->jupyter is set.
  static absl::StatusOr<std::unique_ptr<JupyterPod>> Prepare(
      AttemptStore& store, const std::string& data_dir, const std::string& run_dir,
      const JupyterPodOptions& options, const std::string& task_token, AttemptInfo* info);

  // What the rank's PodSpec needs beyond a training rank's: the port, CPU/memory, and in a Pod
  // the config file, scratch directory, workspace mount, image and GPU sharing.
  void ApplyTo(PodSpec* spec) const;

  // Polls the server once at `host` (short timeouts) and reports what changed; "" = the
  // runtime does not know the address yet. Returns a failed report's status (logged; the
  // lifecycle leaves when it says the manager was superseded), else OK.
  absl::Status Tick(const std::string& host);

 private:
  JupyterPod(AttemptStore& store, JupyterPodOptions options, JupyterPodInfo info,
             std::string config_text, std::string user, bool gpus_shared, std::string task_token)
      : store_(store),
        opt_(std::move(options)),
        info_(std::move(info)),
        config_text_(std::move(config_text)),
        user_(std::move(user)),
        gpus_shared_(gpus_shared),
        task_token_(std::move(task_token)) {}

  AttemptStore& store_;
  const JupyterPodOptions opt_;
  const JupyterPodInfo info_;
  const std::string config_text_;  // in a Pod: shipped as a file (ApplyTo)
  const std::string user_;
  const bool gpus_shared_;
  std::string task_token_;
  std::string reported_host_;  // the address last reported to Postgres
  bool ready_reported_ = false;
  std::optional<absl::Time> reported_activity_;
};

}  // namespace hai::manager
