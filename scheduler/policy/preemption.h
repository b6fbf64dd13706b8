// Preemption search: which running tasks to suspend so that a waiting task can start.
//
// Rules (design §4):
//  - victims are of strictly lower effective tier than the preemptor and outside their
//    minimum runtime; tasks already told to suspend are never asked again: their GPUs count
//    as freeing, so a preemptor waiting on them needs no new victims;
//  - gang: a result is returned only if victims + free capacity satisfy the task
//    completely; otherwise nothing is suspended (no thrash: nobody is suspended for a task
//    that then cannot start);
//  - least loss: lowest tier first, then least run time since the last start.
//
// No loops: a victim's tier is strictly below its preemptor's, so for A to suspend B and B
// to suspend A we would need tier(B) < tier(A) < tier(B). Suspended tasks requeue at their
// own tier and preempt only tiers strictly below it, so chains of preemption strictly
// descend in tier and end after at most 6 steps. (ABOVE_NORMAL demotion only lowers a tier.)
//
// The searches only find; Decide commits (suspends, reserves) when they succeed.
#pragma once

#include <optional>
#include <vector>

#include "scheduler/policy/cluster.h"

namespace hai::policy::internal {

struct PreemptionResult {
  std::vector<int> victims;     // RunInfo indices, loss order; may be empty (only freeing)
  std::vector<NodeIdx> nodes;   // nodes to hold for the preemptor (free ones included)
  int not_free_now = 0;         // of those, nodes that still have to free up
};

// `count` whole nodes with >= `min_gpus` GPUs: all whole-free nodes plus nodes cleared by
// suspending every non-freeing task on them; victims have tier < `tier_limit`.
// Pass tier_limit = 0 to only wait for freeing nodes (no new victims).
std::optional<PreemptionResult> FindWholeNodePreemption(Cluster& cluster, int group,
                                                        int count, int min_gpus,
                                                        int tier_limit);

// `gpus` GPUs on one node: a node where free + freeing GPUs suffice, else the first node
// (walking victims in loss order) where free + freeing + victims' GPUs suffice.
std::optional<PreemptionResult> FindPackedPreemption(Cluster& cluster, int group, int gpus,
                                                     int tier_limit);

}  // namespace hai::policy::internal
