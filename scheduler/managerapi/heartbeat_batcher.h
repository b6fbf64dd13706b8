// HeartbeatBatcher: the heartbeats (and control reads) of many managers in few statements.
// Every manager beats every manager.heartbeat_ms; with thousands of them one statement each
// would cost thousands of round trips, commits and WAL flushes a second on the database the
// scheduling pass reads. Callers (the manager API's handler threads) queue their beat and
// wait; one thread writes everything queued as ONE statement, at most one statement per
// `interval` (measured from the previous statement's start), so the statements per second
// stay at 1/interval whatever the number of managers, and a lone beat after a quiet interval
// is written at once. A failed statement fails every beat in it (the managers beat again).
#pragma once

#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "manager/attempt_store.h"

namespace hai::managerapi {

class HeartbeatBatcher {
 public:
  // One result per key, in order; an error status: none was written.
  using BatchFn = std::function<absl::StatusOr<std::vector<absl::StatusOr<manager::ControlState>>>(
      const std::vector<manager::HeartbeatKey>&)>;

  HeartbeatBatcher(BatchFn batch, absl::Duration interval, size_t max_batch);
  ~HeartbeatBatcher();  // fails what still waits with Unavailable, joins the thread

  // Thread-safe; blocks until the beat's statement has committed or failed.
  absl::StatusOr<manager::ControlState> Beat(const manager::HeartbeatKey& key);

  int64_t statements() const;
  int64_t beats() const;
  size_t largest_batch() const;
  size_t waiting() const;  // beats queued for the next statement (tests)

 private:
  struct Pending {
    manager::HeartbeatKey key;
    bool done = false;
    absl::StatusOr<manager::ControlState> result = absl::UnknownError("not written");
  };
  void Run();

  const BatchFn batch_;
  const absl::Duration interval_;
  const size_t max_batch_;
  mutable absl::Mutex mu_;
  std::vector<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t statements_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t beats_ ABSL_GUARDED_BY(mu_) = 0;
  size_t largest_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: started once everything above is set
};

}  // namespace hai::managerapi
