// One simulated cluster under the scheduling core: the state a simulator keeps where haid
// keeps it in real life, and the one place a policy::Plan is applied to it. Both simulators
// drive it: the policy tests' fixed-step Simulator (test/unit/policy/simulator.h) and
// hai-sim's event-driven replay (replay.h). They differ only in how time advances (fixed
// steps; events with a suspend grace and a cost model), so what a plan does to a cluster is
// written once: preemption holds carried into the next pass, ABOVE_NORMAL demotions,
// suspend requests (preemption and over-quota alike), starts, a suspension taking effect
// (the chain requeues as a new attempt keeping its first-submit time and the progress it
// checkpointed) and finishing.
//
// Library hai_sim_core, beside hai-sim rather than in scheduler/policy: the core stays what
// the daemon runs, and this is what a simulator adds around it. It links hai_policy and
// abseil only, so the policy tests use it without hai-sim's trace and report code. Pure:
// time comes in as arguments, ids from the caller, nothing random.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "scheduler/policy/types.h"

namespace hai::sim {

// What a suspension costs a chain. The default loses nothing: it checkpoints on the notice
// and resumes at once (the policy tests' model).
struct RestartCost {
  absl::Duration checkpoint_interval = absl::ZeroDuration();  // 0: checkpoint on notice
  absl::Duration restart_overhead = absl::ZeroDuration();     // a resumed attempt reloads
};

class SimCluster {
 public:
  SimCluster(std::vector<policy::Node> nodes, std::map<policy::QuotaKey, int64_t> quota,
             RestartCost cost = {});

  // Queues a new chain that needs `work` of productive running. `t` carries its attempt and
  // chain ids (unique in this cluster), user, priority, group, shape and first submit.
  void Submit(policy::Task t, absl::Duration work);

  // The snapshot the next Decide sees: nodes, quota and running tasks as they are now;
  // queued tasks as the caller put them there (QueueAll, or a selection of queued()).
  policy::Snapshot& snapshot() { return snap_; }
  const policy::Snapshot& snapshot() const { return snap_; }
  // Puts every queued task into snapshot().queued, by attempt id.
  void QueueAll();

  struct Applied {
    std::vector<int64_t> suspend_requested;  // victims newly told to suspend, plan order
    std::vector<int64_t> started;            // attempts started, plan order
  };
  // Applies a plan decided over snapshot() at `now` as haid does: the preemption holds it
  // names (policy::CarriesHold) replace the previous ones, demotions change running tiers,
  // victims of either kind are marked suspend-requested (they hold their GPUs until Stop),
  // starts move queued tasks to running at `now`. Clears snapshot().queued, the copies the
  // plan was decided over.
  Applied Apply(const policy::Plan& plan, absl::Time now);

  // When running `attempt` completes its chain's work if nothing stops it first.
  absl::Time FinishTime(int64_t attempt) const;
  // The attempt completed its chain's work: it leaves.
  void Finish(int64_t attempt);

  struct Stopped {
    absl::Duration ran;    // time the attempt held its GPUs
    absl::Duration saved;  // of which productive time the chain keeps (checkpointed)
  };
  // Its suspension took effect at `now`: the attempt stops and leaves; its chain keeps what
  // it checkpointed and requeues as `new_attempt` with the same first-submit time (so it
  // keeps its place) at its requested tier, holding no nodes.
  Stopped Stop(int64_t attempt, int64_t new_attempt, absl::Time now);

  // Null when the attempt is not running (finished, stopped, or never started).
  const policy::Task* FindRunning(int64_t attempt) const;
  const absl::flat_hash_map<int64_t, policy::Task>& queued() const { return queued_; }
  // Queued attempts whose Task::reserved_nodes carry a preemption hold into the next pass.
  const absl::flat_hash_set<int64_t>& holders() const { return holders_; }
  // Restart overhead the running attempt pays before productive work (0 for a first one).
  absl::Duration Overhead(int64_t attempt) const;

 private:
  struct Chain {
    absl::Duration work;
    absl::Duration saved;  // productive time kept across suspensions
    int attempts = 0;      // attempts started
  };
  struct RunSlot {
    size_t pos = 0;  // index in snap_.running
    absl::Duration overhead;
  };
  // Takes a running attempt out of snap_.running (swap with the last: O(1)).
  policy::Task RemoveRunning(int64_t attempt);

  RestartCost cost_;
  policy::Snapshot snap_;  // nodes, quota and running kept current; queued per pass
  absl::flat_hash_map<int64_t, policy::Task> queued_;  // by attempt id
  absl::flat_hash_set<int64_t> holders_;
  absl::flat_hash_map<int64_t, RunSlot> running_;  // by attempt id
  absl::flat_hash_map<int64_t, Chain> chains_;     // by chain id
};

}  // namespace hai::sim
