// Tier and pending-reason name tables.
#include "scheduler/policy/tier.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "scheduler/policy/sv.h"

namespace hai::policy {

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
  const std::string upper = absl::AsciiStrToUpper(internal::Av(name));
  for (Tier t : kTiersDescending) {
    if (TierName(t) == upper) return t;
  }
  return std::nullopt;
}

absl::StatusOr<int> ParsePriority(std::string_view name) {
  if (absl::AsciiStrToUpper(internal::Av(name)) == "AUTO") return kAutoPriority;
  if (std::optional<Tier> t = ParseTier(name)) return static_cast<int>(*t);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown priority '", internal::Av(name),
      "'; use one of EXTREME_HIGH, VERY_HIGH, HIGH, ABOVE_NORMAL, NORMAL, BELOW_NORMAL, LOW, "
      "AUTO"));
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
