// Tier names <-> values and pending-reason names. Tier values are public (DB, API, quota
// resource names `node-<group>-<TIER>`), so the mapping lives in one place.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "scheduler/policy/types.h"

namespace hai::policy {

// All tiers, highest first: the order Decide serves them and AUTO tries them.
inline constexpr std::array<Tier, 7> kTiersDescending = {
    Tier::kExtremeHigh, Tier::kVeryHigh,    Tier::kHigh, Tier::kAboveNormal,
    Tier::kNormal,      Tier::kBelowNormal, Tier::kLow,
};

// "EXTREME_HIGH", ..., "LOW".
std::string_view TierName(Tier tier);

// The tier with this public value, if any (AUTO = -1 is not a tier).
std::optional<Tier> TierFromValue(int value);

// Parses a priority name case-insensitively: a tier name gives its value, "AUTO" gives
// kAutoPriority. Anything else is InvalidArgument naming the accepted values.
absl::StatusOr<int> ParsePriority(std::string_view name);

// Parses a tier name (not AUTO) case-insensitively.
std::optional<Tier> ParseTier(std::string_view name);

// Dense index 0..6 (LOW = 0), for arrays keyed by tier.
int TierIndex(Tier tier);

// "OUT_OF_QUOTA", "WAITING_FOR_NODES", ...: stable names for API and CLI output.
std::string_view PendingReasonName(PendingReason reason);

}  // namespace hai::policy
