// Tier tables (from common/model/tier.h) and pending-reason names.
#pragma once

#include <string_view>

#include "common/model/tier.h"
#include "scheduler/policy/types.h"

namespace hai::policy {

// The tier tables are the task model's (common/model/tier.h); re-exported here so the core
// and its callers keep one spelling.
using model::kTiersDescending;
using model::ParsePriority;
using model::ParseTier;
using model::TierFromValue;
using model::TierIndex;
using model::TierName;

// "OUT_OF_QUOTA", "WAITING_FOR_NODES", ...: stable names for API and CLI output.
std::string_view PendingReasonName(PendingReason reason);

}  // namespace hai::policy
