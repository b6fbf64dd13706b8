// The scheduling core's entry point: one pure decision over a snapshot.
#pragma once

#include "absl/time/time.h"
#include "scheduler/policy/types.h"

namespace hai::policy {

// Decide: which queued tasks start where, which running tasks to suspend (for a preemptor,
// because their owner is over a lowered quota, or because they ran past their time limit on
// nodes a reservation needs), which ABOVE_NORMAL tasks drop to NORMAL,
// and why every other queued task waits. The one entry point of the core: callers apply the
// plan and carry its preemption holds (rules.h CarriesHold) into the next snapshot.
//
// Pure and deterministic: no I/O, clock, globals or randomness; the result does not depend
// on the order of nodes, running or queued tasks in the snapshot (ties break by attempt id
// and node name).
//
// Assumptions:
//  - running tasks' placements are what they hold (a suspend-requested task still holds its
//    GPUs until it stops); a node missing from the snapshot holds nothing;
//  - quotas are resolved (quota.h); a missing quota row means 0 nodes;
//  - nodes have at most 64 GPUs; jupyter nodes and tasks are out of scope.
//
// Steps:
//  1. Index nodes by group and topology domain; book running tasks' GPUs; demote
//     ABOVE_NORMAL tasks that ran >= above_normal_demote_after (they count as NORMAL in
//     this pass; rules.h); count quota usage per (user, group, tier). With
//     config.suspend_over_quota, suspend the youngest tasks of owners over a lowered quota
//     (over_quota.h, kind kOverQuota); their GPUs count as being freed from here on.
//  2. Resolve AUTO and order the queue: tier desc, first submit asc, attempt id.
//  3. For each queued task in order: held -> HELD; unknown group -> NO_SUCH_GROUP; larger
//     than the group or the quota can ever be -> NEVER_FITS; over quota -> OUT_OF_QUOTA.
//     Otherwise place it on free, unreserved capacity (placement.h) and start it; failing
//     that, if it has a time limit, on free capacity that includes the nodes of head-of-tier
//     reservations whose start is no earlier than its limit's end (EASY backfill).
//  4. If it does not fit: wait for nodes being freed, or (config.preemption) suspend
//     strictly lower-tier tasks (preemption.h); the nodes are reserved for it and it waits
//     WAITING_FOR_PREEMPTION, holding its quota.
//  5. Else, if it is the first such task of its tier in its group (the head), it reserves
//     the nodes it will use (reservation.h): only when the nodes not held for tasks ahead
//     of it can satisfy it (else it holds none: reservations of different tiers never
//     stack into holding the whole group); the nodes that free first by the running
//     tasks' time limits, busy nodes that free by its start in place of free ones; and it
//     records that start (Pending::reserved_start). Nobody later in the pass may use them
//     but a task whose own limit ends by that start (no starvation: a big task waits for
//     a bounded set of nodes to free up, never for the whole queue behind it). Tasks past
//     their limit on those nodes, of its tier or below, are suspended for it when nothing
//     else stands in its way (SuspendKind::kOverLimit; it then waits
//     WAITING_FOR_PREEMPTION). It and later tasks wait WAITING_FOR_NODES, or
//     BLOCKED_BY_RESERVATION when reservations made earlier in the pass stand in their
//     way: it would fit now without them, or the unreserved ready nodes could never hold it.
//  6. Number pending tasks per effective tier (1-based, queue order).
//
// Cost: O((N + R + Q) log) for N nodes, R running and Q queued tasks, plus per group a
// preemption walk that skips dead candidates and stops at the tier limit; a failed
// preemption for k nodes in a group is remembered so later tasks that need as many or
// more (at the same or lower tier) skip the search.
Plan Decide(const Snapshot& snapshot, const PolicyConfig& config, absl::Time now);

}  // namespace hai::policy
