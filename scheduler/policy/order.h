// Queue order and quota accounting for one Decide pass.
//
// QuotaLedger: quota and usage per (user, group, tier) in hash maps keyed by interned ids.
// Usage counts the nodes a user's running tasks of a tier hold in a group (a GPU-packed
// single-node task counts as one node), plus what this pass starts or holds for preemptors.
//
// OrderQueue: resolves every queued task's effective tier and sorts: tier desc, then the
// chain's first submit asc (a suspended task keeps its place), then attempt id.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "scheduler/policy/cluster.h"
#include "scheduler/policy/types.h"

namespace hai::policy::internal {

class QuotaLedger {
 public:
  QuotaLedger(const Snapshot& snapshot, const Cluster& cluster);

  // -1 when the user has no task in the snapshot.
  int UserId(std::string_view user) const;

  int64_t Quota(int user, int group, Tier tier) const;
  int64_t Used(int user, int group, Tier tier) const;
  void Add(int user, int group, Tier tier, int64_t nodes);
  static uint64_t Key(int user, int group, Tier tier);

 private:
  absl::flat_hash_map<absl::string_view, int> users_;
  absl::flat_hash_map<uint64_t, int64_t> quota_;
  absl::flat_hash_map<uint64_t, int64_t> used_;
};

struct QueuedEntry {
  const Task* task = nullptr;
  Tier tier = Tier::kNormal;  // effective tier
  int user = -1;
  int group = -1;  // cluster group id; -1: no such group
  // The task's sort keys and index in Snapshot::queued, copied so sorting 100,000 entries
  // does not chase a pointer per comparison.
  absl::Time first_submit;
  int64_t attempt_id = 0;
  size_t index = 0;
};

// Effective tier of a fixed priority value: the tier itself; a value between tiers (e.g.
// HAI's UNDER_NORMAL = 8) snaps down to the tier below it; values below 0 are LOW.
Tier TierForValue(int value);

// AUTO resolution: AUTO tasks, oldest first, each take the highest tier where the user's
// quota minus running usage minus what older AUTO tasks already took still fits the task
// (so a user's second AUTO task falls to the next tier instead of waiting on the first).
// If no tier fits now, the highest tier whose quota could ever fit it (it waits
// OUT_OF_QUOTA there); if none, the highest tier with any quota, else LOW (NEVER_FITS).
std::vector<QueuedEntry> OrderQueue(const Snapshot& snapshot, const Cluster& cluster,
                                    const QuotaLedger& ledger);

}  // namespace hai::policy::internal
