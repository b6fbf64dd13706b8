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
    : config_(std::move(config)), now_(start) {
  snapshot_.nodes = std::move(nodes);
  snapshot_.quota = std::move(quota);
}

int64_t Simulator::Submit(Task t, absl::Duration work) {
  t.attempt_id = next_attempt_++;
  t.chain_id = t.attempt_id;
  t.first_submit = now_;
  t.placement.clear();
  t.suspend_requested = false;
  chain_of_[t.attempt_id] = t.chain_id;
  progress_[t.chain_id] = {work, absl::ZeroDuration()};
  chains_[t.chain_id].submitted = now_;
  snapshot_.queued.push_back(std::move(t));
  return snapshot_.queued.back().chain_id;
}

int64_t Simulator::ChainOf(int64_t attempt) const { return chain_of_.at(attempt); }

bool Simulator::Running(int64_t chain) const {
  return std::any_of(snapshot_.running.begin(), snapshot_.running.end(),
                     [&](const Task& t) { return t.chain_id == chain; });
}

Plan Simulator::Step(absl::Duration dt) {
  now_ += dt;
  // Suspended attempts stop and requeue; finished ones leave.
  std::vector<Task> still;
  for (Task& t : snapshot_.running) {
    Progress& pr = progress_.at(t.chain_id);
    const absl::Duration ran = now_ - t.running_since;
    if (pr.done + ran >= pr.work) {
      chains_[t.chain_id].finished = now_;
      continue;
    }
    if (t.suspend_requested) {
      pr.done += ran;
      chains_[t.chain_id].stops.push_back(now_);
      Task q = t;
      q.attempt_id = next_attempt_++;
      chain_of_[q.attempt_id] = q.chain_id;
      q.tier = static_cast<Tier>(std::max(q.requested_priority, 0));
      q.placement.clear();
      q.reserved_nodes.clear();
      q.suspend_requested = false;
      snapshot_.queued.push_back(std::move(q));
      continue;
    }
    still.push_back(std::move(t));
  }
  snapshot_.running = std::move(still);

  Plan plan = Decide(snapshot_, config_, now_);
  CheckInvariants(snapshot_, config_, plan, now_);
  if (::testing::Test::HasFatalFailure()) {
    ADD_FAILURE() << "snapshot:\n"
                  << Describe(snapshot_, config_, now_) << "plan:\n"
                  << Serialize(plan);
    return plan;
  }

  // Preemptors' held nodes are carried into the next pass (as the daemon does).
  for (Task& t : snapshot_.queued) {
    t.reserved_nodes.clear();
    for (const Pending& w : plan.pending) {
      if (w.attempt_id == t.attempt_id && w.reason == PendingReason::kWaitingForPreemption) {
        t.reserved_nodes = w.reserved_nodes;
      }
    }
  }
  for (const Demotion& d : plan.demotions) {
    for (Task& t : snapshot_.running) {
      if (t.attempt_id == d.attempt_id) t.tier = d.to;
    }
  }
  for (const SuspendDecision& s : plan.suspends) {
    for (Task& t : snapshot_.running) {
      if (t.attempt_id == s.victim_attempt_id) t.suspend_requested = true;
    }
    if (s.kind != SuspendKind::kPreemption) continue;
    preemptions_.push_back({now_, ChainOf(s.preemptor_attempt_id), ChainOf(s.victim_attempt_id)});
  }
  for (const StartDecision& st : plan.starts) {
    auto it = std::find_if(snapshot_.queued.begin(), snapshot_.queued.end(),
                           [&](const Task& t) { return t.attempt_id == st.attempt_id; });
    Task t = std::move(*it);
    snapshot_.queued.erase(it);
    t.tier = st.tier;
    t.placement = st.placement;
    t.running_since = now_;
    chains_[t.chain_id].starts.push_back(now_);
    snapshot_.running.push_back(std::move(t));
  }
  return plan;
}

}  // namespace hai::policy::testing
