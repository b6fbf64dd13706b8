#include "scheduler/loop/plan_applier.h"

#include "common/log.h"
#include "scheduler/policy/rules.h"

namespace hai {

PreemptionHolds HoldsOf(const policy::Plan& plan) {
  PreemptionHolds holds;
  for (const policy::Pending& p : plan.pending) {
    if (policy::CarriesHold(p)) holds[p.attempt_id] = p.reserved_nodes;
  }
  return holds;
}

AppliedPlan PlanApplier::Apply(const policy::Plan& plan, const OpenAttemptMap& open) {
  AppliedPlan out;
  for (const policy::Demotion& d : plan.demotions) Demote(d, out);
  for (const policy::SuspendDecision& d : plan.suspends) Suspend(d, open, out);
  for (const policy::StartDecision& d : plan.starts) Start(d, out);
  metrics_.stale_decisions += static_cast<int64_t>(out.stale.size());
  return out;
}

void PlanApplier::Demote(const policy::Demotion& d, AppliedPlan& out) {
  absl::Status s = store_.SetAttemptTier(d.attempt_id, static_cast<int>(d.from),
                                         static_cast<int>(d.to), "ABOVE_NORMAL run time limit");
  if (!s.ok()) out.stale.push_back(d.attempt_id);
}

void PlanApplier::Suspend(const policy::SuspendDecision& d, const OpenAttemptMap& open,
                          AppliedPlan& out) {
  auto pre = open.find(d.preemptor_attempt_id);
  const int64_t preemptor_chain = pre == open.end() ? 0 : pre->second.chain.chain_id;
  // Over-quota suspensions (no preemptor) are recorded as the quota's doing.
  const char* actor = d.kind == policy::SuspendKind::kOverQuota ? "quota" : "scheduler";
  absl::Status s = store_.RequestSuspend(d.victim_attempt_id, preemptor_chain, d.reason, actor);
  if (!s.ok()) {
    out.stale.push_back(d.victim_attempt_id);
    HAI_LOG(INFO) << "suspend of attempt " << d.victim_attempt_id << " not applied: " << s;
    return;
  }
  ++metrics_.suspends_requested;
  ++(d.kind == policy::SuspendKind::kOverQuota ? metrics_.over_quota_suspends
                                               : metrics_.preemptions);
  HAI_LOG(INFO) << "suspending attempt " << d.victim_attempt_id << " for attempt "
                << d.preemptor_attempt_id << ": " << d.reason;
  notifier_.NotifyManager(d.victim_attempt_id, "suspend");
}

void PlanApplier::Start(const policy::StartDecision& d, AppliedPlan& out) {
  absl::Status s = store_.ScheduleAttempt(d.attempt_id, static_cast<int>(d.tier), d.placement);
  if (!s.ok()) {
    out.stale.push_back(d.attempt_id);
    HAI_LOG(INFO) << "start of attempt " << d.attempt_id << " not applied: " << s;
    return;
  }
  ++metrics_.attempts_started;
  out.started.push_back(d.attempt_id);
}

}  // namespace hai
