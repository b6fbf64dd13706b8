#include "scheduler/election/leader_elector.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg.h"

namespace hai {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t Millis(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Milliseconds(d)); }

bool IsLockTimeout(const pqxx::sql_error& e) { return e.sqlstate() == "55P03"; }

// The advisory lock as pg_locks shows the two-key form.
const std::string kLockRow = absl::StrCat("locktype = 'advisory' AND classid = ", kLockClass,
                                          " AND objid = ", kLockId, " AND objsubid = 2");

}  // namespace

LeaderElector::LeaderElector(ElectorOptions options, std::function<void(int64_t)> on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)) {}

LeaderElector::~LeaderElector() { Handover(); }

void LeaderElector::Start() {
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Handover() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    handover_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int64_t LeaderElector::Epoch() const {
  const int64_t e = epoch_.load();
  if (e != 0 && SteadyNanos() > valid_until_ns_.load()) return 0;  // lease not provably ours
  return e;
}

void LeaderElector::StepDown(int64_t epoch, int64_t newer, const std::string& why) {
  if (newer > seen_epoch_.load()) seen_epoch_.store(newer);
  if (epoch_.load() != epoch) return;
  HAI_LOG(WARNING) << "stepping down from leader epoch " << epoch << ": " << why;
  absl::MutexLock lock(&mu_);
  step_down_ = true;
}

void LeaderElector::SetEpoch(int64_t epoch) {
  if (epoch != 0) seen_epoch_.store(epoch);
  if (epoch_.exchange(epoch) == epoch) return;
  if (on_change_) on_change_(epoch);
}

void LeaderElector::Run() {
  pthread_setname_np(pthread_self(), "hai-elector");
  bool warned = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      step_down_ = false;
    }
    std::unique_ptr<pqxx::connection> conn;
    try {
      conn = std::make_unique<pqxx::connection>(options_.url);
      // Every lock wait of this session (the advisory lock, the lease row) gives up after
      // `poll`, so the thread checks the lease and its own state at least that often.
      {
        pqxx::nontransaction set(*conn);
        set.exec(absl::StrCat("SET lock_timeout = ", Millis(options_.poll)));
      }
      warned = false;
      while (true) {
        bool stopping = false, handover = false, step_down = false;
        if (epoch_.load() != 0) {
          absl::MutexLock lock(&mu_);
          mu_.AwaitWithTimeout(absl::Condition(this, &LeaderElector::Woken), options_.lease / 3);
          stopping = stopping_;
          handover = handover_;
          step_down = step_down_;
        } else {
          absl::MutexLock lock(&mu_);
          stopping = stopping_;
        }
        if (stopping) {
          if (handover && epoch_.load() != 0) Release(*conn);
          SetEpoch(0);
          return;
        }
        if (step_down) break;  // the connection closes below, releasing the lock
        if (epoch_.load() == 0) {
          TryAcquire(*conn);
        } else if (!Renew(*conn)) {
          break;
        }
      }
    } catch (const std::exception& e) {
      if (epoch_.load() != 0) {
        HAI_LOG(WARNING) << "leadership lost with epoch " << epoch_.load()
                         << ": election session failed: " << e.what();
      } else if (!warned) {
        HAI_LOG(WARNING) << "leader election: " << e.what() << " (retrying)";
        warned = true;
      }
    }
    SetEpoch(0);
    conn.reset();  // ends the session: Postgres frees the advisory lock if it held it
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &LeaderElector::Woken), options_.poll);
  }
}

bool LeaderElector::TryAcquire(pqxx::connection& conn) {
  try {
    pqxx::nontransaction tx(conn);
    tx.exec(absl::StrCat("SELECT pg_advisory_lock(", kLockClass, ", ", kLockId, ")"));
  } catch (const pqxx::sql_error& e) {
    if (!IsLockTimeout(e)) throw;
    // Someone holds the lock. Take over only from a leader whose lease ran out (by Postgres'
    // clock): end its election session, which frees the lock for the next round. A holder
    // that is not the registered leader (a replica between the lock and its epoch) is left
    // alone unless the lease has been over for a whole lease more.
    pqxx::nontransaction tx(conn);
    auto r = tx.exec_params1(
        "SELECT l.epoch, coalesce(l.holder, ''), l.lease_until < now(), "
        "l.lease_until < now() - $1 * interval '1 millisecond', "
        "coalesce(l.holder_backend_pid, 0), "
        "coalesce((SELECT pid FROM pg_locks WHERE " +
            kLockRow + " AND granted LIMIT 1), 0) FROM leader_lease l WHERE l.id = 1",
        Millis(options_.lease));
    const int64_t seen = r[0].as<int64_t>();
    if (seen > seen_epoch_.load()) {
      seen_epoch_.store(seen);
      if (on_change_) on_change_(0);
    }
    const int holder_pid = r[4].as<int>(), lock_pid = r[5].as<int>();
    if (r[2].as<bool>() && lock_pid != 0 && (lock_pid == holder_pid || r[3].as<bool>())) {
      HAI_LOG(WARNING) << "leader " << r[1].as<std::string>() << " (epoch " << seen
                       << ") has not renewed its lease for " << Millis(options_.lease)
                       << " ms: ending its election session (backend " << lock_pid << ")";
      tx.exec_params("SELECT pg_terminate_backend($1)", lock_pid);
    }
    return false;
  }
  // The lock is ours: no other replica can be electing now. Bump the epoch. A paused
  // ex-leader may still hold the row FOR SHARE in a write it began before it stopped; its
  // session is ended so the bump is not held up by a process that may never resume (the
  // write aborts with it, which is what fencing wants anyway).
  const int64_t started = SteadyNanos();
  for (int attempt = 0;; ++attempt) {
    try {
      pqxx::work tx(conn);
      auto r = tx.exec_params1(
          "UPDATE leader_lease SET epoch = epoch + 1, holder = $1, "
          "holder_backend_pid = pg_backend_pid(), acquired_at = now(), renewed_at = now(), "
          "lease_until = now() + $2 * interval '1 millisecond' WHERE id = 1 RETURNING epoch",
          options_.name, Millis(options_.lease));
      tx.commit();
      valid_until_ns_.store(started + absl::ToInt64Nanoseconds(options_.lease));
      const int64_t epoch = r[0].as<int64_t>();
      HAI_LOG(INFO) << "elected leader with epoch " << epoch << " (" << options_.name << ")";
      SetEpoch(epoch);
      return true;
    } catch (const pqxx::sql_error& e) {
      if (!IsLockTimeout(e) || attempt >= 20) throw;
      pqxx::nontransaction tx(conn);
      auto blockers = tx.exec(
          "SELECT pid FROM pg_locks WHERE relation = 'leader_lease'::regclass "
          "AND pid <> pg_backend_pid() AND granted");
      for (const auto& b : blockers) {
        HAI_LOG(WARNING) << "ending an old leader's write in flight (backend " << b[0].as<int>()
                         << ") to take over";
        tx.exec_params("SELECT pg_terminate_backend($1)", b[0].as<int>());
      }
    }
  }
}

bool LeaderElector::Renew(pqxx::connection& conn) {
  const int64_t mine = epoch_.load();
  const int64_t started = SteadyNanos();
  try {
    pqxx::work tx(conn);
    // The leader's own fenced writes hold the row FOR SHARE briefly; wait for them up to a
    // renewal period rather than `poll`.
    tx.exec(absl::StrCat("SET LOCAL lock_timeout = ", Millis(options_.lease / 3)));
    auto r = tx.exec_params(
        "UPDATE leader_lease SET renewed_at = now(), "
        "lease_until = now() + $2 * interval '1 millisecond' "
        "WHERE id = 1 AND epoch = $1 AND holder_backend_pid = pg_backend_pid() RETURNING epoch",
        mine, Millis(options_.lease));
    if (r.empty()) {
      const int64_t current =
          tx.exec1("SELECT epoch FROM leader_lease WHERE id = 1")[0].as<int64_t>();
      HAI_LOG(WARNING) << "leadership lost: epoch " << mine << " superseded by " << current;
      if (current > seen_epoch_.load()) seen_epoch_.store(current);
      return false;
    }
    tx.commit();
    valid_until_ns_.store(started + absl::ToInt64Nanoseconds(options_.lease));
    return true;
  } catch (const pqxx::sql_error& e) {
    if (!IsLockTimeout(e)) throw;
    // Not renewed this round; Epoch() turns 0 if this lasts the whole lease.
    HAI_LOG(WARNING) << "lease renewal of epoch " << mine << " waited too long; retrying";
    return true;
  }
}

void LeaderElector::Release(pqxx::connection& conn) {
  const int64_t mine = epoch_.load();
  try {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE leader_lease SET holder = NULL, holder_backend_pid = NULL, lease_until = now() "
        "WHERE id = 1 AND epoch = $1 AND holder_backend_pid = pg_backend_pid()",
        mine);
    tx.commit();
    pqxx::nontransaction unlock(conn);
    unlock.exec(absl::StrCat("SELECT pg_advisory_unlock(", kLockClass, ", ", kLockId, ")"));
    HAI_LOG(INFO) << "handed over leadership (epoch " << mine << ")";
  } catch (const std::exception& e) {
    // Closing the connection frees the lock all the same.
    HAI_LOG(WARNING) << "hand-over of epoch " << mine << ": " << e.what();
  }
}

}  // namespace hai
