// Applies the policy core's plan: demotions, then suspensions, then starts, each as its own
// guarded write, so a decision Postgres rejects as stale (the attempt changed since the
// snapshot) fails alone and the rest of the plan still lands. A suspension tells the victim's
// manager at once; a start is handed back to the loop, which launches its manager.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scheduler/events/notifier.h"
#include "scheduler/loop/open_attempts.h"
#include "scheduler/metrics.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/loop_store.h"

namespace hai {

// What applying a plan did, for the loop to follow up.
struct AppliedPlan {
  std::vector<int64_t> started;  // scheduled: each needs its manager launched
  std::vector<int64_t> stale;    // rejected as stale: re-read these attempts next pass
};

// Nodes the plan holds for waiting preemptors (attempt -> nodes). Fed back into the next
// snapshot, so the nodes their victims free go to them and not to whoever comes first.
using PreemptionHolds = std::map<int64_t, std::vector<std::string>>;
PreemptionHolds HoldsOf(const policy::Plan& plan);

class PlanApplier {
 public:
  PlanApplier(store::PlanWrites& store, Notifier& notifier, Metrics& metrics)
      : store_(store), notifier_(notifier), metrics_(metrics) {}

  // `open` is the pass's view of the open attempts (for a preemptor's chain id).
  AppliedPlan Apply(const policy::Plan& plan, const OpenAttemptMap& open);

 private:
  void Demote(const policy::Demotion& d, AppliedPlan& out);
  void Suspend(const policy::SuspendDecision& d, const OpenAttemptMap& open, AppliedPlan& out);
  void Start(const policy::StartDecision& d, AppliedPlan& out);

  store::PlanWrites& store_;
  Notifier& notifier_;
  Metrics& metrics_;
};

}  // namespace hai
