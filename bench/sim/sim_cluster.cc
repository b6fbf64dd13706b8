// Applying plans to one simulated cluster (see sim_cluster.h).
#include "bench/sim/sim_cluster.h"

#include <algorithm>
#include <utility>

#include "scheduler/policy/rules.h"

namespace hai::sim {

using policy::Task;

SimCluster::SimCluster(std::vector<policy::Node> nodes, std::map<policy::QuotaKey, int64_t> quota,
                       RestartCost cost)
    : cost_(cost) {
  snap_.nodes = std::move(nodes);
  snap_.quota = std::move(quota);
}

void SimCluster::Submit(Task t, absl::Duration work) {
  t.placement.clear();
  t.reserved_nodes.clear();
  t.suspend_requested = false;
  chains_[t.chain_id] = {work, absl::ZeroDuration(), 0};
  const int64_t id = t.attempt_id;
  queued_.emplace(id, std::move(t));
}

void SimCluster::QueueAll() {
  std::vector<int64_t> ids;
  ids.reserve(queued_.size());
  for (const auto& [id, t] : queued_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  snap_.queued.clear();
  snap_.queued.reserve(ids.size());
  for (int64_t id : ids) snap_.queued.push_back(queued_.at(id));
}

SimCluster::Applied SimCluster::Apply(const policy::Plan& plan, absl::Time now) {
  snap_.queued.clear();
  Applied out;
  // Nodes freed for a preemptor stay held for it in the next pass, as haid carries them.
  for (int64_t h : holders_) queued_.at(h).reserved_nodes.clear();
  holders_.clear();
  for (const policy::Pending& p : plan.pending) {
    if (!policy::CarriesHold(p)) continue;
    queued_.at(p.attempt_id).reserved_nodes = p.reserved_nodes;
    holders_.insert(p.attempt_id);
  }
  for (const policy::Demotion& d : plan.demotions) {
    snap_.running[running_.at(d.attempt_id).pos].tier = d.to;
  }
  for (const policy::SuspendDecision& s : plan.suspends) {
    Task& v = snap_.running[running_.at(s.victim_attempt_id).pos];
    if (v.suspend_requested) continue;
    v.suspend_requested = true;
    out.suspend_requested.push_back(s.victim_attempt_id);
  }
  for (const policy::StartDecision& st : plan.starts) {
    auto it = queued_.find(st.attempt_id);
    Task t = std::move(it->second);
    queued_.erase(it);
    holders_.erase(st.attempt_id);
    t.tier = st.tier;
    t.placement = st.placement;
    t.running_since = now;
    t.reserved_nodes.clear();
    t.suspend_requested = false;
    Chain& ch = chains_.at(t.chain_id);
    ++ch.attempts;
    running_[t.attempt_id] = {snap_.running.size(),
                              ch.attempts > 1 ? cost_.restart_overhead : absl::ZeroDuration()};
    out.started.push_back(t.attempt_id);
    snap_.running.push_back(std::move(t));
  }
  return out;
}

absl::Time SimCluster::FinishTime(int64_t attempt) const {
  const RunSlot& slot = running_.at(attempt);
  const Task& t = snap_.running[slot.pos];
  const Chain& ch = chains_.at(t.chain_id);
  return t.running_since + slot.overhead + (ch.work - ch.saved);
}

absl::Duration SimCluster::Overhead(int64_t attempt) const { return running_.at(attempt).overhead; }

const Task* SimCluster::FindRunning(int64_t attempt) const {
  auto it = running_.find(attempt);
  return it == running_.end() ? nullptr : &snap_.running[it->second.pos];
}

Task SimCluster::RemoveRunning(int64_t attempt) {
  const size_t pos = running_.at(attempt).pos;
  Task t = std::move(snap_.running[pos]);
  if (pos + 1 != snap_.running.size()) {
    snap_.running[pos] = std::move(snap_.running.back());
    running_.at(snap_.running[pos].attempt_id).pos = pos;
  }
  snap_.running.pop_back();
  running_.erase(attempt);
  return t;
}

void SimCluster::Finish(int64_t attempt) {
  const Task t = RemoveRunning(attempt);
  Chain& ch = chains_.at(t.chain_id);
  ch.saved = ch.work;
}

SimCluster::Stopped SimCluster::Stop(int64_t attempt, int64_t new_attempt, absl::Time now) {
  const absl::Duration overhead = running_.at(attempt).overhead;
  Task t = RemoveRunning(attempt);
  Chain& ch = chains_.at(t.chain_id);
  const absl::Duration ran = now - t.running_since;
  const absl::Duration productive = std::max(absl::ZeroDuration(), ran - overhead);
  const absl::Duration ckpt = cost_.checkpoint_interval;
  const absl::Duration saved =
      ckpt > absl::ZeroDuration() ? absl::Floor(productive, ckpt) : productive;
  ch.saved += saved;

  t.attempt_id = new_attempt;
  // Back at its requested priority: Decide resolves a queued task's tier from
  // requested_priority (AUTO afresh), not from the tier it last ran at.
  t.tier = static_cast<policy::Tier>(std::max(t.requested_priority, 0));
  t.placement.clear();
  t.reserved_nodes.clear();
  t.suspend_requested = false;
  queued_.emplace(new_attempt, std::move(t));
  return {ran, saved};
}

}  // namespace hai::sim
