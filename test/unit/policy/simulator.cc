// The multi-pass test cluster (see simulator.h).
#include "test/unit/policy/simulator.h"

#include <algorithm>
#include <utility>

#include "gtest/gtest.h"
#include "scheduler/policy/decide.h"
#include "test/unit/policy/invariants.h"

namespace hai::policy::testing {

Simulator::Simulator(std::vector<Node> nodes, std::map<QuotaKey, int64_t> quota,
                     PolicyConfig config, absl::Time start)
    : cluster_(std::move(nodes), std::move(quota)), config_(std::move(config)), now_(start) {}

int64_t Simulator::Submit(Task t, absl::Duration work) {
  t.attempt_id = next_attempt_++;
  t.chain_id = t.attempt_id;
  t.first_submit = now_;
  const int64_t chain = t.chain_id;
  chain_of_[t.attempt_id] = chain;
  chains_[chain].submitted = now_;
  cluster_.Submit(std::move(t), work);
  return chain;
}

int64_t Simulator::ChainOf(int64_t attempt) const { return chain_of_.at(attempt); }

bool Simulator::Running(int64_t chain) const {
  const std::vector<Task>& running = cluster_.snapshot().running;
  return std::any_of(running.begin(), running.end(),
                     [&](const Task& t) { return t.chain_id == chain; });
}

Plan Simulator::Step(absl::Duration dt) {
  now_ += dt;
  // Finished attempts leave; suspended ones stop and requeue. By attempt id, so the new
  // attempts' ids do not depend on the order the cluster keeps its running tasks in.
  std::vector<int64_t> ids;
  for (const Task& t : cluster_.snapshot().running) ids.push_back(t.attempt_id);
  std::sort(ids.begin(), ids.end());
  for (int64_t id : ids) {
    const Task& t = *cluster_.FindRunning(id);
    const int64_t chain = t.chain_id;
    if (cluster_.FinishTime(id) <= now_) {
      cluster_.Finish(id);
      chains_[chain].finished = now_;
    } else if (t.suspend_requested) {
      const int64_t next = next_attempt_++;
      chain_of_[next] = chain;
      cluster_.Stop(id, next, now_);
      chains_[chain].stops.push_back(now_);
    }
  }

  cluster_.QueueAll();
  const Snapshot& snapshot = cluster_.snapshot();
  Plan plan = Decide(snapshot, config_, now_);
  CheckInvariants(snapshot, config_, plan, now_);
  if (::testing::Test::HasFatalFailure()) {
    ADD_FAILURE() << "snapshot:\n"
                  << Describe(snapshot, config_, now_) << "plan:\n"
                  << Serialize(plan);
    return plan;
  }

  for (const SuspendDecision& s : plan.suspends) {
    if (s.kind != SuspendKind::kPreemption) continue;
    preemptions_.push_back({now_, ChainOf(s.preemptor_attempt_id), ChainOf(s.victim_attempt_id)});
  }
  const sim::SimCluster::Applied applied = cluster_.Apply(plan, now_);
  for (int64_t id : applied.started) chains_[ChainOf(id)].starts.push_back(now_);
  return plan;
}

}  // namespace hai::policy::testing
