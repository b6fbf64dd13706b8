// Tier names and values (common/model/tier.h): the public mapping every layer shares.
#include "common/model/tier.h"

#include "gtest/gtest.h"

namespace hai::model {
namespace {

TEST(Tier, NamesAndValuesRoundTrip) {
  for (Tier t : kTiersDescending) {
    EXPECT_EQ(ParseTier(TierName(t)), t);
    EXPECT_EQ(TierFromValue(static_cast<int>(t)), t);
    EXPECT_EQ(PriorityName(static_cast<int>(t)), TierName(t));
  }
  EXPECT_EQ(TierFromValue(kAutoPriority), std::nullopt);
  EXPECT_EQ(PriorityName(kAutoPriority), "AUTO");
  EXPECT_EQ(PriorityName(7), std::nullopt);
}

TEST(Tier, PriorityParsingIsCaseInsensitiveAndTyped) {
  EXPECT_EQ(ParsePriority("high").value(), 30);
  EXPECT_EQ(ParsePriority("Auto").value(), kAutoPriority);
  absl::StatusOr<int> bad = ParsePriority("urgent");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Tier, DenseIndexFollowsTheOrder) {
  int expected = 6;
  for (Tier t : kTiersDescending) EXPECT_EQ(TierIndex(t), expected--);
}

TEST(RequeueTier, TheChainsRequestedPriorityExceptAKeptDemotion) {
  const int kHigh = 30, kAboveNormal = 20, kNormal = 10, kLow = 0;
  EXPECT_EQ(RequeueTier(kHigh, kHigh), kHigh);
  // The user raised the priority while it ran: the requeued attempt takes the new one.
  EXPECT_EQ(RequeueTier(kHigh, kLow), kHigh);
  // AUTO is resolved again at the next start, not frozen at the tier it last ran at.
  EXPECT_EQ(RequeueTier(kAutoPriority, kNormal), kAutoPriority);
  // A demoted ABOVE_NORMAL chain stays demoted; one that was not keeps ABOVE_NORMAL.
  EXPECT_EQ(RequeueTier(kAboveNormal, kNormal), kNormal);
  EXPECT_EQ(RequeueTier(kAboveNormal, kAboveNormal), kAboveNormal);
}

}  // namespace
}  // namespace hai::model
