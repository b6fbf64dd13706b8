// JupyterPod: the manager's part of running a Jupyter dev container (docs/jupyter.md).
// Prepare() (before the rank starts or is adopted) reads the container's row, keeps one
// loopback port per attempt in the run directory (an adopting manager reuses it), creates the
// user's workspace under <data_dir>/workspaces/<user> (kept across stop and re-create),
// writes the notebook config, and fills AttemptInfo::jupyter so pod_env builds the argv,
// environment and working directory. Tick() (every heartbeat) asks the server's /api/status
// with the attempt's task token and reports readiness and Jupyter's own last_activity to
// Postgres, where haid's idle culler reads it. The manager observes; haid decides.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/attempt_info.h"
#include "manager/attempt_store.h"

namespace hai::manager {

// Jupyter's timestamps ("2026-12-01T19:40:00.123456Z", also with +00:00); nullopt if bad.
std::optional<absl::Time> ParseJupyterTime(const std::string& text);

// last_activity of a /api/status reply body; nullopt when absent or unparsable.
std::optional<absl::Time> LastActivityFromStatus(const std::string& body);

class JupyterPod {
 public:
  // `info` is the claimed attempt; on success info->jupyter is set.
  static absl::StatusOr<std::unique_ptr<JupyterPod>> Prepare(
      AttemptStore& store, const std::string& data_dir, const std::string& run_dir,
      const std::string& notebook_binary, const std::string& task_token, AttemptInfo* info);

  // Polls the server once (short timeouts) and reports what changed.
  void Tick();

 private:
  JupyterPod(AttemptStore& store, int port, std::string task_token)
      : store_(store), port_(port), task_token_(std::move(task_token)) {}

  AttemptStore& store_;
  int port_;
  std::string task_token_;
  bool port_reported_ = false;
  bool ready_reported_ = false;
  std::optional<absl::Time> reported_activity_;
};

}  // namespace hai::manager
