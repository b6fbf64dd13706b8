// Leader election of haid replicas through Postgres (sql/migrations/0013_leader_lease.sql).
//
// Each replica runs one elector thread (`hai-elector`) on a connection of its own:
//  - standby: asks for the session advisory lock (kLockKey) with a lock_timeout of `poll`.
//    The lock is granted the moment the holder's session ends (a crashed leader: its socket
//    closes, so Postgres ends the session at once) or the holder releases it (hand-over).
//    Each time the request times out it reads the lease row; when the leader has not renewed
//    it for `lease` (hung, paused, cut off from Postgres) it ends that leader's election
//    session with pg_terminate_backend, which frees the lock.
//  - on getting the lock: increments the row's epoch (holder, backend pid, lease) in one
//    statement and leads with that epoch.
//  - leader: renews the lease every lease/3 (`WHERE epoch = mine AND holder_backend_pid =
//    pg_backend_pid()`). A renewal that matches no row (a later epoch took over) or fails
//    (the session is gone, and with it the lock) ends leadership at once. Epoch() also reads
//    0 as soon as the last successful renewal is older than the lease by this process's
//    monotonic clock, so a leader that cannot renew stops acting before anyone may replace
//    it, and a paused one finds its epoch void when it resumes.
//  - Handover() (clean shutdown): releases the row (holder NULL, lease over; NOTIFY
//    hai_leader) and the lock, so a standby blocked on the lock takes over within a round
//    trip.
// Safety never rests on these timings: every scheduler write checks the epoch in its own
// transaction (store::EpochFence), so an ex-leader that still thinks it leads cannot write.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scheduler/loop/leadership.h"

namespace hai {

struct ElectorOptions {
  std::string url;   // a runtime database URL (statement and connect timeouts set)
  std::string name;  // this replica in the lease row and logs: "<host>:<pid>"
  absl::Duration lease = absl::Seconds(3);
  absl::Duration poll = absl::Milliseconds(200);
};

// The advisory lock of the election: pg_advisory_lock(kLockClass, kLockId) ("haid", 18).
inline constexpr int32_t kLockClass = 0x68616964;
inline constexpr int32_t kLockId = 18;

class LeaderElector final : public Leadership {
 public:
  // on_change(epoch) runs on the elector thread whenever the role changes (epoch 0: standby);
  // haid wakes its loop with it.
  LeaderElector(ElectorOptions options, std::function<void(int64_t)> on_change);
  ~LeaderElector() override;

  void Start();
  // Stops the thread; while leading, hands leadership over first (see above).
  void Handover();

  int64_t Epoch() const override;
  void StepDown(int64_t epoch, int64_t newer, const std::string& why) override;
  // The latest epoch this replica has seen in the lease row (for /metrics while standby).
  int64_t SeenEpoch() const { return seen_epoch_.load(); }

 private:
  void Run();
  // One standby round: true when this replica now leads.
  bool TryAcquire(pqxx::connection& conn);
  // One leader round: false when leadership ended.
  bool Renew(pqxx::connection& conn);
  void Release(pqxx::connection& conn);
  void SetEpoch(int64_t epoch);
  bool Woken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || step_down_; }

  const ElectorOptions options_;
  const std::function<void(int64_t)> on_change_;
  std::atomic<int64_t> epoch_{0};
  std::atomic<int64_t> seen_epoch_{0};
  // steady-clock nanoseconds until which the lease is known valid (start of the last
  // successful renewal + lease).
  std::atomic<int64_t> valid_until_ns_{0};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool handover_ ABSL_GUARDED_BY(mu_) = false;
  bool step_down_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hai
