// Manager processes as the scheduling loop sees them: start one for an attempt, know which
// are our children, and probe or kill a recorded pid. Launcher implements it with real
// processes; the loop's unit tests use an in-memory fake.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace hai {

// A manager child that exited.
struct ManagerExit {
  int64_t attempt_id = 0;
  pid_t pid = 0;
  int exit_code = 0;  // 128+signal when killed
};

class ManagerProcesses {
 public:
  virtual ~ManagerProcesses() = default;
  // Spawns `hai-manager --attempt <id>`; returns its pid.
  virtual absl::StatusOr<pid_t> Launch(int64_t attempt_id) = 0;
  // True while a manager we spawned for the attempt has not been reaped.
  virtual bool HasLiveChild(int64_t attempt_id) const = 0;
  // Reaps exited children (non-blocking) and reports them.
  virtual std::vector<ManagerExit> Reap() = 0;
  // A process with this pid exists (possibly a manager of an earlier haid).
  virtual bool Alive(pid_t pid) const = 0;
  // SIGKILL to a hung manager.
  virtual void Kill(pid_t pid) = 0;
};

}  // namespace hai
