// The policy core's Snapshot kept between passes. Building it afresh copied every open
// attempt into a new Task each pass (~35 ms at 100,000 queued); this copy re-derives only
// the tasks of attempts the open-attempt copy says changed (OpenAttemptCache::TakeChanged),
// the nodes when the hosts are reloaded, and the preemption holds the last plan made.
// Invariant (live_snapshot_test): after Sync, snapshot() holds the same tasks as
// BuildSnapshot over the same inputs; only the order of the task vectors may differ, and
// Decide does not depend on it (it orders by tier, first submit and attempt id).
// Scheduler-thread only; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "scheduler/loop/open_attempts.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/rows.h"

namespace hai {

class LiveSnapshot {
 public:
  // Brings the tasks up to date with `open` (everything after a full load there).
  void Sync(OpenAttemptCache& open);
  void SetNodes(std::vector<policy::Node> nodes) { snapshot_.nodes = std::move(nodes); }
  void SetQuota(std::map<policy::QuotaKey, int64_t> quota) { snapshot_.quota = std::move(quota); }
  // The previous plan's holds (attempt -> nodes) replace the ones set before.
  void SetHolds(const std::map<int64_t, std::vector<std::string>>& holds);

  const policy::Snapshot& snapshot() const { return snapshot_; }
  // The queued task of an attempt; null when it is not queued in the snapshot.
  const policy::Task* FindQueued(int64_t attempt_id) const;
  // The chain name of snapshot().queued[index] (for the pending views; the core has no use
  // for names).
  const std::string& QueuedName(size_t index) const { return queued_names_[index]; }

 private:
  // Where an attempt's task sits: index into running (running) or queued.
  struct Slot {
    bool running = false;
    size_t index = 0;
  };
  void Rebuild(const OpenAttemptMap& open);
  void Remove(int64_t attempt_id);
  void Put(int64_t attempt_id, const store::OpenAttempt& o);

  policy::Snapshot snapshot_;
  std::vector<std::string> queued_names_;  // parallel to snapshot_.queued
  absl::flat_hash_map<int64_t, Slot> slots_;
  std::vector<int64_t> with_holds_;  // queued attempts whose reserved_nodes are set
};

}  // namespace hai
