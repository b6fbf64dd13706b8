// Head-of-tier reservations: which nodes the first waiting task of a tier holds so that it is
// not starved by the tasks behind it, and from when it can use them.
//
// Rules (decide.h step 5):
//  - a head holds what it needs and no more: `nodes` nodes (one node when GPU-packed);
//  - it holds only nodes no task ahead of it holds, and only when enough of those exist to
//    start it: a head that cannot be satisfied beside the reservations ahead of it holds
//    nothing (holding part of what it needs would only keep those nodes idle until the
//    reservations ahead of it have started and ended);
//  - it picks the nodes that free up first by the time limits of the tasks on them
//    (a free node now, a node of suspending tasks now, a node of tasks with limits at the
//    latest limit end, a node with a task without a limit never), so its start S is as
//    early as the limits allow;
//  - when S is known (finite), it holds busy nodes that will be free by S in place of free
//    nodes: such a node costs the head nothing, while a free node held until S stays idle.
//    Not without limits: the choice is remade every pass from the blockers, and a free node
//    given away to a task without a limit could become one of its blockers in the next
//    pass (measured on Philly at half size: 2-4 node jobs waited 26% longer);
//  - tasks run past their limit on the chosen nodes, of the head's tier or below, count as
//    gone: when nothing else stands between the head and its nodes, they are named to be
//    suspended (SuspendKind::kOverLimit) and the head waits for them like a preemptor.
// Backfill (EASY): a task behind the head may start on the head's nodes only when its own
// time limit ends by S (decide.cc); so a backfilled task never moves S, computed from the
// limits the tasks were given, later.
#pragma once

#include <vector>

#include "absl/time/time.h"
#include "scheduler/policy/cluster.h"

namespace hai::policy::internal {

struct HeadReservation {
  std::vector<NodeIdx> nodes;  // empty: the head holds nothing (see the rules above)
  // When every held node is free for the head by the limits of the tasks on them;
  // InfiniteFuture when one of them has no limit.
  absl::Time start = absl::InfiniteFuture();
  // Runs (RunInfo indices) over their limit on the held nodes to suspend now: non-empty only
  // when the head could start at once without them.
  std::vector<int> over_limit;
};

// The reservation for the head `task` of effective tier `tier` in `group` (decide.h step 5).
// Only finds; the caller reserves the nodes and suspends the over-limit runs.
HeadReservation PlanHeadReservation(const Cluster& cluster, int group, const Task& task, int tier);

}  // namespace hai::policy::internal
