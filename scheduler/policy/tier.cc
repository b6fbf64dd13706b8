// Pending-reason names (the tier tables are in common/model/tier.cc).
#include "scheduler/policy/tier.h"

namespace hai::policy {

std::string_view PendingReasonName(PendingReason reason) {
  switch (reason) {
    case PendingReason::kOutOfQuota: return "OUT_OF_QUOTA";
    case PendingReason::kWaitingForNodes: return "WAITING_FOR_NODES";
    case PendingReason::kBlockedByReservation: return "BLOCKED_BY_RESERVATION";
    case PendingReason::kNoSuchGroup: return "NO_SUCH_GROUP";
    case PendingReason::kNeverFits: return "NEVER_FITS";
    case PendingReason::kWaitingForPreemption: return "WAITING_FOR_PREEMPTION";
    case PendingReason::kHeld: return "HELD";
  }
  return "UNKNOWN";
}

}  // namespace hai::policy
