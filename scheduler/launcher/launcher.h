// Starts one hai-manager process per started attempt and notices when one dies.
// Managers are spawned in their own session (posix_spawn + POSIX_SPAWN_SETSID), so they
// outlive a haid restart and a signal to haid's process group never reaches a task. Managers
// from an earlier haid are not our children: for those, the recorded pid counts only while
// /proc shows it is still that manager (same start time, `hai-manager --attempt <id>`), and
// liveness is the heartbeat the manager writes to Postgres (checked by the scheduler).
// Thread-safety: used only from the scheduler thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "scheduler/launcher/manager_processes.h"

namespace hai {

struct LauncherOptions {
  std::string manager_binary;  // absolute path of hai-manager
  std::string config_path;     // passed as --config
  std::string override_path;   // passed as --config-override when non-empty
  std::string log_dir;         // <data_dir>/managers: one log file per attempt
  // The attempt's manager API credential (common/manager_credential.h), handed to the manager
  // on a pipe it reads as fd 3 (`--credential-fd 3`): never in argv or the environment, which
  // other processes of the same user can read. Unset: no credential (manager.store=postgres).
  std::function<std::string(int64_t attempt_id)> credential;
};

class Launcher final : public ManagerProcesses {
 public:
  explicit Launcher(LauncherOptions options) : options_(std::move(options)) {}
  // Spawns `hai-manager --attempt <id>`; returns its pid.
  absl::StatusOr<pid_t> Launch(int64_t attempt_id) override;
  // True while a manager we spawned for the attempt has not been reaped.
  bool HasLiveChild(int64_t attempt_id) const override;
  // Reaps exited children (non-blocking) and reports them.
  std::vector<ManagerExit> Reap() override;
  // From /proc: pid, start time and command line (manager_identity.h).
  ManagerMatch Identify(const RecordedManager& m) const override;
  // Through a pidfd, after Identify; waits up to 2 s for the exit.
  bool Kill(const RecordedManager& m) override;

 private:
  LauncherOptions options_;
  std::map<pid_t, int64_t> children_;          // pid -> attempt
  std::map<int64_t, pid_t> child_of_attempt_;  // attempt -> pid
};

}  // namespace hai
