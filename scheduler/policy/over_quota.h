// Enforcing a lowered quota. When an admin lowers a quota below what an owner's running tasks
// already hold, new starts stop at once (Decide never starts a task over quota); with
// `PolicyConfig::suspend_over_quota` the youngest running tasks of that user, group and tier
// are also suspended (and requeued) until the rest fits. Youngest first because they lose the
// least work. Minimum-runtime protection does not apply: the quota is the admin's decision.
#pragma once

#include <vector>

#include "absl/time/time.h"
#include "scheduler/policy/types.h"

namespace hai::policy {

// Pure and deterministic. Tasks already told to suspend are leaving and do not count.
// ABOVE_NORMAL tasks past `above_normal_demote_after` count at NORMAL, as in Decide.
// Empty unless config.suspend_over_quota.
std::vector<SuspendDecision> OverQuotaSuspensions(const Snapshot& snapshot,
                                                  const PolicyConfig& config, absl::Time now);

}  // namespace hai::policy
