// A tiny discrete-time cluster driven only by Decide, for multi-pass tests (starvation,
// thrash, preemption follow-through). Each Step: tasks whose work is done finish;
// suspend-requested tasks stop (keeping their progress, as if they checkpointed) and requeue
// as a new attempt of the same chain with the same first-submit time; Decide runs; its plan
// is applied the way the daemon would (holds, demotions, suspend requests, starts). The
// cluster state and the plan application are hai-sim's (bench/sim/sim_cluster.h): this
// class only adds fixed steps, the invariant check of every plan, and the logs tests read.
// Deterministic: no clock, no randomness of its own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "bench/sim/sim_cluster.h"
#include "scheduler/policy/types.h"

namespace hai::policy::testing {

struct PreemptionEvent {
  absl::Time at;
  int64_t preemptor_chain = 0;
  int64_t victim_chain = 0;
};

struct ChainLog {
  absl::Time submitted;
  std::vector<absl::Time> starts;  // one per attempt that started
  std::vector<absl::Time> stops;   // suspensions took effect
  std::optional<absl::Time> finished;
};

class Simulator {
 public:
  Simulator(std::vector<Node> nodes, std::map<QuotaKey, int64_t> quota, PolicyConfig config,
            absl::Time start);

  // Queues a new chain needing `work` of running time; returns its chain id. `t` supplies
  // user, priority, group and shape; ids and times are set here.
  int64_t Submit(Task t, absl::Duration work);

  // Advances the clock by `dt` and runs one pass. Returns the applied plan.
  Plan Step(absl::Duration dt);

  absl::Time now() const { return now_; }
  const Snapshot& snapshot() const { return cluster_.snapshot(); }
  const std::map<int64_t, ChainLog>& chains() const { return chains_; }
  const std::vector<PreemptionEvent>& preemptions() const { return preemptions_; }
  bool Running(int64_t chain) const;
  int64_t ChainOf(int64_t attempt) const;

 private:
  sim::SimCluster cluster_;
  PolicyConfig config_;
  absl::Time now_;
  int64_t next_attempt_ = 1;
  std::map<int64_t, ChainLog> chains_;
  std::map<int64_t, int64_t> chain_of_;  // attempt -> chain
  std::vector<PreemptionEvent> preemptions_;
};

}  // namespace hai::policy::testing
