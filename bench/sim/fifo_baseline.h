// The comparison baseline: strict FIFO per node group, the scheduler a cluster without
// time-sharing runs (no tiers, no backfill, no preemption). Written separately from the
// scheduling core on purpose: it is what hai is measured against, and its per-job times are
// checked against an independent Python calculation (test/unit/sim/fifo_reference.py).
#pragma once

#include "scheduler/policy/types.h"

namespace hai::sim {

// One FIFO pass over a snapshot of one or more groups. Per group, queued tasks are taken in
// (first_submit, attempt_id) order and started while the first of them fits; the first that
// does not fit blocks everything behind it in its group. Placement:
//  - single-node tasks asking for g GPUs: best fit, the ready node with the fewest free GPUs
//    that still has g (ties: the earlier node in the snapshot), its lowest free GPU indices;
//  - other tasks (whole nodes): the first `nodes` ready nodes in snapshot order with no
//    task on them and at least gpus_per_node GPUs.
// Tiers and quotas are ignored. Pure: no I/O, clock or state.
policy::Plan FifoDecide(const policy::Snapshot& snapshot);

}  // namespace hai::sim
