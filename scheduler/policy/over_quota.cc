// Over-quota suspensions (see over_quota.h).
#include "scheduler/policy/over_quota.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "scheduler/policy/rules.h"
#include "scheduler/policy/tier.h"

namespace hai::policy::internal {

std::vector<SuspendDecision> OverQuotaSuspensions(const Snapshot& snapshot,
                                                  const PolicyConfig& config, absl::Time now) {
  std::vector<SuspendDecision> out;
  if (!config.suspend_over_quota) return out;
  std::map<QuotaKey, std::vector<const Task*>> holders;
  for (const Task& t : snapshot.running) {
    if (t.suspend_requested) continue;
    holders[{t.user, t.group, EffectiveTier(t, config, now)}].push_back(&t);
  }
  for (auto& [key, tasks] : holders) {
    int64_t used = 0;
    for (const Task* t : tasks) used += std::max(t->nodes, 1);
    auto q = snapshot.quota.find(key);
    const int64_t quota = q == snapshot.quota.end() ? 0 : q->second;
    if (used <= quota) continue;
    // Youngest first; ties by attempt id so the choice does not depend on input order.
    std::sort(tasks.begin(), tasks.end(), [](const Task* a, const Task* b) {
      if (a->running_since != b->running_since) return a->running_since > b->running_since;
      return a->attempt_id > b->attempt_id;
    });
    const std::string why = absl::StrCat("over quota: ", key.user, " holds ", used, " node(s) at ",
                                         std::string(TierName(key.tier)), " in group ", key.group,
                                         ", quota is ", quota);
    for (const Task* t : tasks) {
      if (used <= quota) break;
      out.push_back({t->attempt_id, /*preemptor_attempt_id=*/0, why, SuspendKind::kOverQuota});
      used -= std::max(t->nodes, 1);
    }
  }
  std::sort(out.begin(), out.end(), [](const SuspendDecision& a, const SuspendDecision& b) {
    return a.victim_attempt_id < b.victim_attempt_id;
  });
  return out;
}

}  // namespace hai::policy::internal
