// Priority tiers: the enum, its public values and names, defined once for every binary (the
// scheduling core, haid's store and API, the config reader, hai-cli). Tier values are public
// (DB column attempts.tier, chains.priority, the API, quota resource names
// `node-<group>-<TIER>`), so the mapping lives here and nowhere else.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"

namespace hai::model {

// The numbers are the public tier values.
enum class Tier : int {
  kLow = 0,
  kBelowNormal = 5,
  kNormal = 10,
  kAboveNormal = 20,
  kHigh = 30,
  kVeryHigh = 40,
  kExtremeHigh = 50,
};
// Requested priority value meaning "the highest tier where the user still has quota".
inline constexpr int kAutoPriority = -1;

// All tiers, highest first: the order the scheduler serves them and AUTO tries them.
inline constexpr std::array<Tier, 7> kTiersDescending = {
    Tier::kExtremeHigh, Tier::kVeryHigh,    Tier::kHigh, Tier::kAboveNormal,
    Tier::kNormal,      Tier::kBelowNormal, Tier::kLow,
};

// "EXTREME_HIGH", ..., "LOW".
std::string_view TierName(Tier tier);

// The tier with this public value, if any (AUTO = -1 is not a tier).
std::optional<Tier> TierFromValue(int value);

// Parses a tier name (not AUTO) case-insensitively.
std::optional<Tier> ParseTier(std::string_view name);

// Parses a priority name case-insensitively: a tier name gives its value, "AUTO" gives
// kAutoPriority. Anything else is InvalidArgument naming the accepted values.
absl::StatusOr<int> ParsePriority(std::string_view name);

// The name of a requested priority value: a tier name, "AUTO", or nullopt when invalid.
std::optional<std::string_view> PriorityName(int value);

// Dense index 0..6 (LOW = 0), for arrays keyed by tier.
int TierIndex(Tier tier);

// The tier of the new attempt when a chain is requeued (after a suspension, or on resume
// after a hold), decided here once for every writer: the chain's requested priority, so a
// priority change applies and AUTO is resolved again at the next start against the quota of
// that moment; except that an ABOVE_NORMAL chain whose attempt was already demoted to NORMAL
// stays NORMAL, so a suspension does not restart the demotion clock (HAI's 30-minute rule).
int RequeueTier(int chain_priority, int ended_attempt_tier);

}  // namespace hai::model
