// haid's in-memory copy of every open attempt (queued, scheduled, starting, running) with its
// chain and pods: loaded in full once, then brought up to date each pass with only what
// Postgres says changed (LoopReads::LoadOpenAttemptChanges, change tracking by transaction id).
// Postgres stays the source of truth: the loop never edits this copy to record its own
// decisions; it persists them, and the next refresh reads them back like anyone's writes.
// Owned by the scheduler thread; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "scheduler/store/loop_store.h"
#include "scheduler/store/rows.h"

namespace hai {

using OpenAttemptMap = std::map<int64_t, store::OpenAttempt>;  // by attempt id

class OpenAttemptCache {
 public:
  // Reads what changed since the last successful refresh (everything the first time, or
  // after Invalidate) and applies it. On error the copy and the watermark are unchanged, so
  // the next refresh reads the same changes again.
  absl::Status Refresh(store::LoopReads& store);
  // Applies one read; exposed for tests of the merge rules.
  void Apply(store::OpenAttemptChanges changes);
  // Re-reads this attempt on the next refresh even if no change is recorded for it: a
  // decision on it was rejected as stale, or Postgres reported it deleted.
  void Recheck(int64_t attempt_id) { recheck_.insert(attempt_id); }
  // The next refresh is a full load.
  void Invalidate() { since_ = 0; }

  const OpenAttemptMap& attempts() const { return open_; }
  // O(1) lookup (a per-pass lookup of every pending task would otherwise walk the tree).
  const store::OpenAttempt* Find(int64_t attempt_id) const;
  // Mutable access for facts read outside change tracking (manager heartbeats).
  store::OpenAttempt* Find(int64_t attempt_id);
  // Attempts holding nodes (scheduled, starting, running): the ones managers drive. The
  // supervisor walks these, not the whole queue.
  const std::set<int64_t>& holding() const { return holding_; }
  // Queued attempts of chains being stopped.
  const std::set<int64_t>& stop_queued() const { return stop_queued_; }
  // What changed since the last call, for copies kept from this one (live_snapshot.h):
  // `full` = the whole copy was replaced (rebuild from attempts()); else the ids of the
  // attempts that were added, replaced or removed. Clears the record.
  struct Changed {
    bool full = false;
    std::vector<int64_t> ids;
  };
  Changed TakeChanged();
  // Rows the last refresh read, and whether it was a full load (for metrics and logs).
  int64_t last_rows() const { return last_rows_; }
  bool last_full() const { return last_full_; }

 private:
  void Index(store::OpenAttempt& o);
  void Forget(int64_t attempt_id);

  OpenAttemptMap open_;
  absl::flat_hash_map<int64_t, store::OpenAttempt*> index_;  // into open_'s stable nodes
  std::set<int64_t> holding_;
  std::set<int64_t> stop_queued_;
  uint64_t since_ = 0;  // 0 = nothing loaded yet
  std::set<int64_t> recheck_;
  Changed changed_{true, {}};  // nothing handed out yet: the first taker rebuilds
  int64_t last_rows_ = 0;
  bool last_full_ = false;
};

}  // namespace hai
