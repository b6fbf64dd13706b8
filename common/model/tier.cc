// Tier name and value tables (tier.h).
#include "common/model/tier.h"

#include <cctype>
#include <string>

#include "absl/status/status.h"

namespace hai::model {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kLow: return "LOW";
    case Tier::kBelowNormal: return "BELOW_NORMAL";
    case Tier::kNormal: return "NORMAL";
    case Tier::kAboveNormal: return "ABOVE_NORMAL";
    case Tier::kHigh: return "HIGH";
    case Tier::kVeryHigh: return "VERY_HIGH";
    case Tier::kExtremeHigh: return "EXTREME_HIGH";
  }
  return "UNKNOWN";
}

std::optional<Tier> TierFromValue(int value) {
  for (Tier t : kTiersDescending) {
    if (static_cast<int>(t) == value) return t;
  }
  return std::nullopt;
}

std::optional<Tier> ParseTier(std::string_view name) {
  const std::string upper = Upper(name);
  for (Tier t : kTiersDescending) {
    if (TierName(t) == upper) return t;
  }
  return std::nullopt;
}

absl::StatusOr<int> ParsePriority(std::string_view name) {
  if (Upper(name) == "AUTO") return kAutoPriority;
  if (std::optional<Tier> t = ParseTier(name)) return static_cast<int>(*t);
  std::string message = "unknown priority '";
  message.append(name).append(
      "'; use one of EXTREME_HIGH, VERY_HIGH, HIGH, ABOVE_NORMAL, NORMAL, BELOW_NORMAL, LOW, "
      "AUTO");
  return absl::InvalidArgumentError(message);
}

std::optional<std::string_view> PriorityName(int value) {
  if (value == kAutoPriority) return "AUTO";
  if (std::optional<Tier> t = TierFromValue(value)) return TierName(*t);
  return std::nullopt;
}

int TierIndex(Tier tier) {
  switch (tier) {
    case Tier::kLow: return 0;
    case Tier::kBelowNormal: return 1;
    case Tier::kNormal: return 2;
    case Tier::kAboveNormal: return 3;
    case Tier::kHigh: return 4;
    case Tier::kVeryHigh: return 5;
    case Tier::kExtremeHigh: return 6;
  }
  return 0;
}

int RequeueTier(int chain_priority, int ended_attempt_tier) {
  if (chain_priority == static_cast<int>(Tier::kAboveNormal) &&
      ended_attempt_tier == static_cast<int>(Tier::kNormal)) {
    return ended_attempt_tier;
  }
  return chain_priority;
}

}  // namespace hai::model
