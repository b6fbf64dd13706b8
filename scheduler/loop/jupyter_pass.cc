// Scheduling and idle culling of Jupyter containers; see jupyter_pass.h.
#include "scheduler/loop/jupyter_pass.h"

#include "common/log.h"
#include "scheduler/policy/tier.h"

namespace hai {

absl::Duration JupyterIdleTimeout(const JupyterConfig& config, const std::string& role) {
  auto it = config.idle_timeout_by_role.find(role);
  return it == config.idle_timeout_by_role.end() ? config.idle_timeout : it->second;
}

JupyterPass::JupyterPass(store::Store& store, const Config& config, ManagerProcesses& launcher,
                         Notifier& notifier)
    : store_(store),
      jupyter_store_(store.pool()),
      config_(config),
      launcher_(launcher),
      notifier_(notifier) {
  placement_.gpu_sharing_groups = {config.jupyter.gpu_sharing_groups.begin(),
                                   config.jupyter.gpu_sharing_groups.end()};
  placement_.max_containers_per_gpu = config.jupyter.max_containers_per_gpu;
}

void JupyterPass::Run(const std::vector<store::HostRow>& hosts, absl::Time now) {
  auto open = jupyter_store_.LoadOpenContainers();
  if (!open.ok()) {
    HAI_LOG(WARNING) << "jupyter pass skipped: " << open.status();
    return;
  }
  std::vector<policy::Node> nodes;
  nodes.reserve(hosts.size());
  for (const store::HostRow& h : hosts) nodes.push_back(h.node);

  std::vector<policy::JupyterContainer> placed, queued;
  std::map<int64_t, const store::OpenJupyter*> by_attempt;
  std::vector<policy::JupyterActivity> running;
  for (const store::OpenJupyter& o : *open) {
    by_attempt[o.attempt_id] = &o;
    policy::JupyterContainer c;
    c.attempt_id = o.attempt_id;
    c.chain_id = o.row.chain_id;
    c.user = o.row.user;
    c.group = o.row.group;
    c.cpu_millis = o.row.cpu_millis;
    c.memory_mib = o.row.memory_mib;
    c.gpus = o.row.gpus;
    c.keep_alive = o.row.keep_alive;
    c.first_submit = o.first_submit;
    if (o.state == model::AttemptState::kQueued) {
      // A held or stopping chain is not started; the general loop ends a stopped one.
      if (!o.hold && !o.stop_requested) queued.push_back(std::move(c));
      continue;
    }
    c.placed = true;
    c.node = o.node;
    c.gpu_indices = o.gpus;
    placed.push_back(std::move(c));
    if (o.state == model::AttemptState::kRunning && o.started_at.has_value() &&
        !o.stop_or_suspend_requested) {
      policy::JupyterActivity a;
      a.chain_id = o.row.chain_id;
      a.attempt_id = o.attempt_id;
      a.keep_alive = o.row.keep_alive;
      a.idle_timeout = JupyterIdleTimeout(config_.jupyter, o.row.role);
      a.started_at = *o.started_at;
      // Reports of an earlier attempt say nothing about this one.
      if (o.row.attempt_id == o.attempt_id) a.server_activity = o.row.server_activity_at;
      a.api_activity = o.row.api_activity_at;
      running.push_back(a);
    }
  }

  policy::JupyterPlan plan = policy::PlaceJupyter(nodes, placed, queued, placement_);
  for (const policy::StartDecision& d : plan.starts) {
    absl::Status s = store_.ScheduleAttempt(d.attempt_id, 0, d.placement);
    if (!s.ok()) {
      HAI_LOG(INFO) << "start of jupyter attempt " << d.attempt_id << " not applied: " << s;
      continue;
    }
    auto pid = launcher_.Launch(d.attempt_id);
    if (!pid.ok()) {
      // The supervisor of the general loop relaunches managers that are missing.
      HAI_LOG(ERROR) << "jupyter attempt " << d.attempt_id << ": " << pid.status();
      continue;
    }
    HAI_LOG(INFO) << "jupyter attempt " << d.attempt_id << " on " << d.placement[0].node
                  << ": manager pid " << *pid;
  }

  for (const policy::CullDecision& c : policy::IdleCulls(running, now)) {
    // Recorded as culled before the stop, so the container never looks merely stopped.
    absl::Status s = jupyter_store_.MarkCulled(c.chain_id, c.attempt_id, c.reason);
    if (!s.ok()) {
      HAI_LOG(INFO) << "cull of container " << c.chain_id << " not applied: " << s;
      continue;
    }
    auto stopped = store_.RequestStop(c.chain_id, "idle-culler");
    if (!stopped.ok()) {
      HAI_LOG(WARNING) << "cull of container " << c.chain_id << ": " << stopped.status();
      continue;
    }
    HAI_LOG(INFO) << "container " << c.chain_id << " " << c.reason;
    notifier_.NotifyManager(c.attempt_id, "stop");
  }

  std::map<int64_t, JupyterPendingView> pending;
  for (const policy::Pending& p : plan.pending) {
    auto it = by_attempt.find(p.attempt_id);
    if (it == by_attempt.end()) continue;
    pending[it->second->row.chain_id] = {std::string(policy::PendingReasonName(p.reason)), p.detail,
                                         p.position_in_tier};
  }
  absl::MutexLock lock(&mu_);
  pending_ = std::move(pending);
}

std::optional<JupyterPendingView> JupyterPass::PendingFor(int64_t chain_id) const {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(chain_id);
  if (it == pending_.end()) return std::nullopt;
  return it->second;
}

}  // namespace hai
