// Manager supervision, once per pass: every attempt holding nodes must have a live manager.
// One that is our live child is fine. Otherwise the recorded pid, host and heartbeat decide
// (manager_liveness.h): alive -> leave it; hung (its process on this host is silent past the
// timeout) -> kill it and start another; gone -> start another, which adopts the attempt's
// pods. After kMaxManagerRestarts relaunches the attempt is failed instead: a manager that
// keeps dying would otherwise hold the nodes forever.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "scheduler/launcher/manager_processes.h"
#include "scheduler/loop/manager_liveness.h"
#include "scheduler/loop/open_attempts.h"
#include "scheduler/metrics.h"
#include "scheduler/store/loop_store.h"

namespace hai {

struct SupervisionOptions {
  absl::Duration manager_timeout = absl::Seconds(30);  // heartbeat silence that means lost
  // A manager that has not written its first heartbeat this long after scheduling is lost.
  absl::Duration start_timeout = absl::Seconds(30);
  int max_restarts = 3;   // relaunches of a lost manager before its attempt is failed
  std::string this_host;  // haid's host name as managers record it
};

class ManagerSupervisor {
 public:
  ManagerSupervisor(store::SupervisionRecords& store, ManagerProcesses& processes, Metrics& metrics,
                    SupervisionOptions options)
      : store_(store), processes_(processes), metrics_(metrics), opt_(std::move(options)) {}

  // Launches the manager of a newly scheduled attempt.
  void StartManager(int64_t attempt_id);
  // Checks the manager of every attempt in `open.holding()`; updates the cache's copy of
  // heartbeats it re-reads.
  void Supervise(OpenAttemptCache& open, absl::Time now);

  // Relaunches so far of the attempt's manager (for tests and logs).
  int RestartsOf(int64_t attempt_id) const;

 private:
  ManagerVerdict Judge(const store::AttemptRow& a, absl::Time now) const;
  // Of a node-holding attempt, in memory: not our live child, and no live pid or no
  // heartbeat within manager_timeout.
  bool LooksLost(const store::AttemptRow& a, absl::Time now) const;
  // Re-reads pid and heartbeat of attempts whose manager looks lost in memory (heartbeats
  // are not change-tracked), so only a manager Postgres also finds silent is replaced.
  void RefreshLiveness(OpenAttemptCache& open, absl::Time now);
  void SuperviseOne(const store::AttemptRow& a, absl::Time now);
  // Relaunch counts of attempts no longer holding nodes are dropped.
  void ForgetEnded(const OpenAttemptCache& open);

  store::SupervisionRecords& store_;
  ManagerProcesses& processes_;
  Metrics& metrics_;
  SupervisionOptions opt_;
  std::map<int64_t, int> restarts_;  // attempt -> relaunches so far
};

}  // namespace hai
