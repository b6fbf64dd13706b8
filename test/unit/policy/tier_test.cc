// Tier names, values and pending-reason names.
#include "scheduler/policy/tier.h"

#include "gtest/gtest.h"

namespace hai::policy {
namespace {

TEST(TierTest, ParsesEveryNameCaseInsensitively) {
  EXPECT_EQ(*ParsePriority("LOW"), 0);
  EXPECT_EQ(*ParsePriority("below_normal"), 5);
  EXPECT_EQ(*ParsePriority("Normal"), 10);
  EXPECT_EQ(*ParsePriority("ABOVE_NORMAL"), 20);
  EXPECT_EQ(*ParsePriority("high"), 30);
  EXPECT_EQ(*ParsePriority("VERY_HIGH"), 40);
  EXPECT_EQ(*ParsePriority("extreme_high"), 50);
  EXPECT_EQ(*ParsePriority("auto"), kAutoPriority);
}

TEST(TierTest, RejectsUnknownNamesWithTheAcceptedList) {
  absl::StatusOr<int> p = ParsePriority("UNDER_NORMAL");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("BELOW_NORMAL"), absl::string_view::npos);
  EXPECT_FALSE(ParsePriority("").ok());
  EXPECT_FALSE(ParseTier("AUTO").has_value());  // AUTO is a request, not a tier
}

TEST(TierTest, NamesAndValuesRoundTrip) {
  int prev = 1000;
  for (Tier t : kTiersDescending) {
    EXPECT_LT(static_cast<int>(t), prev);  // strictly descending
    prev = static_cast<int>(t);
    EXPECT_EQ(TierFromValue(static_cast<int>(t)), t);
    EXPECT_EQ(*ParsePriority(TierName(t)), static_cast<int>(t));
  }
  EXPECT_FALSE(TierFromValue(8).has_value());
  EXPECT_FALSE(TierFromValue(kAutoPriority).has_value());
}

TEST(TierTest, PendingReasonNames) {
  EXPECT_EQ(PendingReasonName(PendingReason::kOutOfQuota), "OUT_OF_QUOTA");
  EXPECT_EQ(PendingReasonName(PendingReason::kWaitingForNodes), "WAITING_FOR_NODES");
  EXPECT_EQ(PendingReasonName(PendingReason::kBlockedByReservation), "BLOCKED_BY_RESERVATION");
  EXPECT_EQ(PendingReasonName(PendingReason::kNoSuchGroup), "NO_SUCH_GROUP");
  EXPECT_EQ(PendingReasonName(PendingReason::kNeverFits), "NEVER_FITS");
  EXPECT_EQ(PendingReasonName(PendingReason::kWaitingForPreemption), "WAITING_FOR_PREEMPTION");
  EXPECT_EQ(PendingReasonName(PendingReason::kHeld), "HELD");
}

}  // namespace
}  // namespace hai::policy
