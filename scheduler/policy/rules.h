// The time rules of the scheduling core, exported so that the daemon and the simulators ask
// the core instead of re-deriving them: a running ABOVE_NORMAL task's demotion to NORMAL, a
// running task's minimum-runtime protection, the end of its time limit, and which waiting tasks'
// nodes the next pass must keep holding (preemption holds). Decide applies exactly these functions,
// so a caller that schedules a wake-up for "when this task becomes a possible victim" or carries
// holds into the next snapshot cannot drift from what Decide does.
#pragma once

#include "absl/time/time.h"
#include "scheduler/policy/types.h"

namespace hai::policy {

// The tier a running task counts at `now`: ABOVE_NORMAL becomes NORMAL once it has run
// PolicyConfig::above_normal_demote_after (HAI rule); every other tier is kept.
Tier EffectiveTier(const Task& running, const PolicyConfig& config, absl::Time now);

// When a running task drops from ABOVE_NORMAL to NORMAL; InfiniteFuture for other tiers.
absl::Time DemotionTime(const Task& running, const PolicyConfig& config);

// Minimum runtime of a victim of `tier` (its row in PolicyConfig::min_runtime, else the
// default).
absl::Duration MinRuntime(const PolicyConfig& config, Tier tier);

// Until when a running task is protected from preemption, judged at `now` (the window
// follows its effective tier, so a demotion can change it). Protected while now < result.
absl::Time ProtectedUntil(const Task& running, const PolicyConfig& config, absl::Time now);

// When a running task reaches its time limit (running_since + time_limit); InfiniteFuture
// when it has none.
absl::Time LimitEnd(const Task& running);

// Whether a running task has run to or past its time limit at `now`: from then on a
// reservation of its tier or above may suspend it (SuspendKind::kOverLimit).
bool OverLimit(const Task& running, absl::Time now);

// Whether the next snapshot must carry `p.reserved_nodes` as the task's
// Task::reserved_nodes: nodes freed for a preemptor stay held for it until it starts.
// Head-of-tier reservations are not carried: each pass makes them afresh.
bool CarriesHold(const Pending& p);

}  // namespace hai::policy
