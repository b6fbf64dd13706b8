#include "scheduler/loop/attempt_timings.h"

#include <vector>

#include "common/model/tier.h"

namespace hai {

void AttemptTimings::Observe(const OpenAttemptCache& open, absl::Time now) {
  const OpenAttemptMap& attempts = open.attempts();
  for (int64_t id : open.holding()) {
    auto it = attempts.find(id);
    if (it == attempts.end()) continue;
    const store::AttemptRow& a = it->second.attempt;
    Seen& s = seen_[id];
    const auto tier = model::TierFromValue(a.tier);
    const bool training = it->second.chain.kind != model::TaskKind::kJupyter;
    if (!s.placed && a.scheduled_at.has_value()) {
      s.placed = true;
      if (training && tier && *a.scheduled_at >= since_) {
        metrics_.queue_delay_seconds[model::TierIndex(*tier)]->Observe(*a.scheduled_at -
                                                                       a.queued_at);
      }
    }
    if (!s.running && a.started_at.has_value()) {
      s.running = true;
      if (training && tier && *a.started_at >= since_) {
        metrics_.submit_to_running_seconds[model::TierIndex(*tier)]->Observe(*a.started_at -
                                                                             a.queued_at);
      }
    }
    s.notice = a.stop_requested_at.has_value() ? std::nullopt : a.suspend_requested_at;
  }
  std::vector<int64_t> gone;
  for (const auto& [id, s] : seen_) {
    if (open.holding().contains(id)) continue;
    gone.push_back(id);
    if (s.notice.has_value() && *s.notice >= since_) {
      metrics_.suspend_latency_seconds.Observe(now - *s.notice);
    }
  }
  for (int64_t id : gone) seen_.erase(id);
}

}  // namespace hai
