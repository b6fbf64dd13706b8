// Manager supervision, once per pass: every attempt holding nodes must have a live manager.
// One that is our live child is fine. Otherwise what Postgres records of its manager decides
// (manager_liveness.h), re-read when its heartbeat may have gone stale: alive -> leave it;
// hung (its process on this host is that manager, silent past the timeout) -> kill it, and
// once it is confirmed gone start another; gone -> start another, which adopts the attempt's
// pods. Silence is measured by Postgres' clock only, and counts only after haid has had
// Postgres for a whole timeout (a Postgres outage kills no manager). After max_restarts
// relaunches the attempt is failed instead (a manager that keeps dying would otherwise hold
// the nodes forever), but only after its ranks are ended (rank_reaper.h): nodes where they
// cannot be confirmed gone are cordoned in the same transaction that frees the others.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "scheduler/launcher/manager_processes.h"
#include "scheduler/launcher/rank_reaper.h"
#include "scheduler/loop/manager_liveness.h"
#include "scheduler/loop/open_attempts.h"
#include "scheduler/metrics.h"
#include "scheduler/store/loop_store.h"

namespace hai {

struct SupervisionOptions {
  absl::Duration manager_timeout = absl::Seconds(30);  // heartbeat silence that means lost
  // A relaunched manager that has not claimed its attempt this long after its launch is lost.
  absl::Duration start_timeout = absl::Seconds(30);
  int max_restarts = 3;   // relaunches of a lost manager before its attempt is failed
  std::string this_host;  // haid's host name as managers record it
};

class ManagerSupervisor {
 public:
  ManagerSupervisor(store::SupervisionRecords& store, ManagerProcesses& processes,
                    RankReaper& reaper, Metrics& metrics, SupervisionOptions options)
      : store_(store),
        processes_(processes),
        reaper_(reaper),
        metrics_(metrics),
        opt_(std::move(options)) {}

  // Launches the manager of a newly scheduled attempt.
  void StartManager(int64_t attempt_id);
  // Checks the manager of every attempt in `open.holding()`; updates the cache's copy of
  // heartbeats it re-reads. `now` is haid's clock, used only for its own elapsed times
  // (when to re-read, how long Postgres has been reachable), never against Postgres' times.
  void Supervise(OpenAttemptCache& open, absl::Time now);
  // haid could not read Postgres (a pass was skipped): silence counts again only a whole
  // timeout after the next successful read.
  void NoteStoreUnavailable() { store_ok_since_.reset(); }
  // Whether hosts were cordoned since the last call (the loop reloads them before it next
  // places anything).
  bool TakeHostsChanged() { return std::exchange(hosts_changed_, false); }

  // Relaunches so far of the attempt's manager (for tests and logs).
  int RestartsOf(int64_t attempt_id) const;

 private:
  // Postgres' record of the manager must be re-read: never read, or its last heartbeat may
  // have gone stale since.
  bool Due(int64_t attempt_id, absl::Time now) const;
  void SuperviseOne(const store::OpenAttempt& o, const store::ManagerLiveness& l,
                    bool silence_counts, absl::Time now);
  void Fail(const store::OpenAttempt& o, const store::ManagerLiveness& l, int restarts);
  // Relaunch counts of attempts no longer holding nodes are dropped.
  void ForgetEnded(const OpenAttemptCache& open);

  store::SupervisionRecords& store_;
  ManagerProcesses& processes_;
  RankReaper& reaper_;
  Metrics& metrics_;
  SupervisionOptions opt_;
  std::map<int64_t, int> restarts_;            // attempt -> relaunches so far
  // Attempts whose manager was last found gone or hung (until it is seen alive): the
  // managers gauge of /metrics.
  std::set<int64_t> not_alive_;
  std::map<int64_t, absl::Time> launched_at_;  // attempt -> our last relaunch (haid's clock)
  std::map<int64_t, absl::Time> recheck_at_;   // attempt -> next re-read (haid's clock)
  // Since when haid has read Postgres without a failure (haid's clock); unset after one.
  std::optional<absl::Time> store_ok_since_;
  bool hosts_changed_ = false;
};

}  // namespace hai
