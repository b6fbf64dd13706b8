// Synthetic cluster snapshots for the policy benchmarks: a seeded generator (no real
// randomness), so every run decides over the same snapshot and figures are comparable.
#pragma once

#include <cstdint>

#include "scheduler/policy/types.h"

namespace hai::bench {

struct GenParams {
  int nodes = 352;
  int gpus_per_node = 8;
  int queued = 1000;
  int running = 300;           // approximate: the cluster is filled with this many tasks
  int users = 100;
  double preempt_fraction = 0.5;  // share of the queue at tiers above most running work
  bool only_low_running = false;  // every running task LOW (preemption-heavy case)
  double free_fraction = 0.05;    // nodes left free
  // Share of running and queued tasks given a time limit (1-24 h; a running task may be
  // past it), drawn from a second stream so the snapshot is otherwise the same.
  double limit_fraction = 0;
  uint32_t seed = 1;
};

// Two node groups (70% "a100", 30% "h800"), 32 nodes per switch, 8 switches per room. All
// but `free_fraction` of the nodes are busy: whole-node tasks, gangs of 2-8 nodes inside one switch, and nodes packed
// with 1-4 GPU tasks; the mix is chosen so about `running` tasks result. Running work is
// mostly LOW..NORMAL; `preempt_fraction` of the queue is HIGH..EXTREME_HIGH (they can only
// start by preemption), the rest LOW..ABOVE_NORMAL or AUTO. Quotas: every user has 4-64
// nodes per tier and group.
policy::Snapshot Generate(const GenParams& p);

// Policy config used by the benchmarks: preemption on, 10 min minimum runtime.
policy::PolicyConfig BenchConfig();

// "Now" for the generated snapshots.
absl::Time BenchNow();

}  // namespace hai::bench
