// Manager processes as the scheduling loop sees them: start one for an attempt, know which
// are our children, and check or kill a recorded manager. Launcher implements it with real
// processes; the loop's unit tests use an in-memory fake.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace hai {

// A manager child that exited.
struct ManagerExit {
  int64_t attempt_id = 0;
  pid_t pid = 0;
  int exit_code = 0;  // 128+signal when killed
};

// A manager as Postgres records it (attempts.manager_pid, manager_start_time).
struct RecordedManager {
  pid_t pid = 0;
  int64_t attempt_id = 0;
  // Field 22 of /proc/<pid>/stat as the manager read it at its claim; nullopt for rows
  // written before managers recorded it (then the command line alone identifies it).
  std::optional<int64_t> start_time;
};

// Whether the process now holding a recorded pid is that manager (manager_identity.h).
enum class ManagerMatch {
  kIsIt,        // same start time, and `hai-manager ... --attempt <id>`
  kNotIt,       // no such process, a zombie, or another process that reuses the pid
  kCannotTell,  // /proc unreadable: treated as alive, never killed
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
  // Whether the recorded manager (possibly one of an earlier haid) still runs on this host.
  virtual ManagerMatch Identify(const RecordedManager& m) const = 0;
  // SIGKILLs a hung manager after checking it is still that manager, and waits for it to
  // end. True when it is confirmed gone (killed, or the pid no longer names it); false when
  // it may still run (not identifiable, kill refused, still there after the wait): the
  // caller must then treat it as alive.
  virtual bool Kill(const RecordedManager& m) = 0;
};

}  // namespace hai
