#include "scheduler/loop/snapshot_builder.h"

#include "common/model/states.h"
#include "scheduler/policy/tier.h"

namespace hai {
namespace {

policy::Task TaskFrom(const store::OpenAttempt& o) {
  policy::Task t;
  t.attempt_id = o.attempt.attempt_id;
  t.chain_id = o.chain.chain_id;
  t.user = o.chain.user;
  t.requested_priority = o.chain.priority;
  // A queued attempt's tier is the chain's fixed priority, or -1 (AUTO, resolved at start).
  auto tier = policy::TierFromValue(o.attempt.tier);
  t.tier = tier.value_or(policy::Tier::kLow);
  if (o.attempt.state == model::AttemptState::kQueued && o.attempt.tier >= 0)
    t.requested_priority = o.attempt.tier;
  t.group = o.chain.group;
  t.nodes = o.chain.nodes;
  t.gpus_per_node = o.chain.gpus_per_node;
  t.first_submit = o.chain.first_submit_at;
  // The core backfills by the limit and counts it from running_since (set below for running
  // attempts); without one the task is never backfilled nor suspended for overrunning it.
  if (o.chain.time_limit_s > 0) t.time_limit = absl::Seconds(o.chain.time_limit_s);
  return t;
}

}  // namespace

std::vector<policy::Node> NodesOf(const std::vector<store::HostRow>& hosts) {
  std::vector<policy::Node> nodes;
  nodes.reserve(hosts.size());
  for (const store::HostRow& h : hosts) nodes.push_back(h.node);
  return nodes;
}

std::optional<SnapshotTask> SnapshotTaskOf(const store::OpenAttempt& o) {
  // Jupyter containers are decided by the Jupyter pass (jupyter_pass.h): they never
  // compete with training for a node, and training never preempts them.
  if (o.chain.kind == model::TaskKind::kJupyter) return std::nullopt;
  SnapshotTask out;
  policy::Task& t = out.task;
  t = TaskFrom(o);
  if (o.attempt.state == model::AttemptState::kQueued) {
    if (o.chain.hold || o.chain.stop_requested) return std::nullopt;
    return out;
  }
  out.running = true;
  t.running_since =
      o.attempt.started_at.value_or(o.attempt.scheduled_at.value_or(o.attempt.queued_at));
  t.suspend_requested =
      o.attempt.suspend_requested_at.has_value() || o.attempt.stop_requested_at.has_value();
  for (const store::PodRow& p : o.attempt.pods) {
    t.placement.push_back({p.node, p.gpus});
  }
  return out;
}

policy::Snapshot BuildSnapshot(const SnapshotInputs& in) {
  policy::Snapshot s;
  s.nodes = NodesOf(in.hosts);
  s.queued.reserve(in.open.size());
  for (const auto& [id, o] : in.open) {
    std::optional<SnapshotTask> st = SnapshotTaskOf(o);
    if (!st.has_value()) continue;
    if (st->running) {
      s.running.push_back(std::move(st->task));
      continue;
    }
    auto hold = in.preemption_holds.find(id);
    if (hold != in.preemption_holds.end()) st->task.reserved_nodes = hold->second;
    s.queued.push_back(std::move(st->task));
  }
  s.quota = in.quota;
  return s;
}

}  // namespace hai
