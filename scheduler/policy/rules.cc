// The exported time rules (see rules.h).
#include "scheduler/policy/rules.h"

namespace hai::policy {

Tier EffectiveTier(const Task& running, const PolicyConfig& config, absl::Time now) {
  return now >= DemotionTime(running, config) ? Tier::kNormal : running.tier;
}

absl::Time DemotionTime(const Task& running, const PolicyConfig& config) {
  if (running.tier != Tier::kAboveNormal) return absl::InfiniteFuture();
  return running.running_since + config.above_normal_demote_after;
}

absl::Duration MinRuntime(const PolicyConfig& config, Tier tier) {
  auto it = config.min_runtime.find(tier);
  return it == config.min_runtime.end() ? config.default_min_runtime : it->second;
}

absl::Time ProtectedUntil(const Task& running, const PolicyConfig& config, absl::Time now) {
  return running.running_since + MinRuntime(config, EffectiveTier(running, config, now));
}

absl::Time LimitEnd(const Task& running) {
  if (running.time_limit <= absl::ZeroDuration() ||
      running.time_limit == absl::InfiniteDuration()) {
    return absl::InfiniteFuture();  // none given (zero or less counts as none)
  }
  return running.running_since + running.time_limit;
}

bool OverLimit(const Task& running, absl::Time now) { return now >= LimitEnd(running); }

bool CarriesHold(const Pending& p) {
  return p.reason == PendingReason::kWaitingForPreemption && !p.reserved_nodes.empty();
}

}  // namespace hai::policy
