// Enforcing a lowered quota. When an admin lowers a quota below what an owner's running tasks
// already hold, new starts stop at once (Decide never starts a task over quota); with
// `PolicyConfig::suspend_over_quota` the youngest running tasks of that user, group and tier
// are also suspended (and requeued) until the rest fits. Youngest first because they lose the
// least work. Minimum-runtime protection does not apply: the quota is the admin's decision.
//
// Internal to the policy library: Decide runs it first and returns its suspensions in
// Plan::suspends (kind kOverQuota), so the daemon and the simulators apply one plan and
// nobody calls a second entry point.
#pragma once

#include <vector>

#include "absl/time/time.h"
#include "scheduler/policy/types.h"

namespace hai::policy::internal {

// Pure and deterministic; sorted by victim attempt id. Tasks already told to suspend are
// leaving and do not count. Running tasks count at their effective tier (rules.h), as in
// Decide. Empty unless config.suspend_over_quota.
std::vector<SuspendDecision> OverQuotaSuspensions(const Snapshot& snapshot,
                                                  const PolicyConfig& config, absl::Time now);

}  // namespace hai::policy::internal
