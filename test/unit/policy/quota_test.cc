// Quota resolution (user > group > public, expiry, invalid rows) and submit-time admission.
#include "scheduler/policy/quota.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/policy/builders.h"

namespace hai::policy {
namespace {

using ::testing::HasSubstr;
using testing::kT0;
using testing::MakeNode;

QuotaRow Row(std::string kind, std::string owner, std::string resource, int64_t q) {
  return QuotaRow{std::move(kind), std::move(owner), std::move(resource), q, std::nullopt, true};
}

int64_t Get(const ResolvedQuota& r, const std::string& user, const std::string& group, Tier tier) {
  auto it = r.quota.find(QuotaKey{user, group, tier});
  return it == r.quota.end() ? -1 : it->second;
}

TEST(QuotaTest, UserOverridesGroupsWhichOverridePublic) {
  const std::map<std::string, std::vector<std::string>> users = {
      {"alice", {"ml", "cv"}}, {"bob", {"ml"}}, {"carol", {}}};
  const std::vector<QuotaRow> rows = {
      Row("public", "", "node-a100-NORMAL", 2),
      Row("group", "ml", "node-a100-NORMAL", 4),
      Row("group", "cv", "node-a100-NORMAL", 6),
      Row("user", "bob", "node-a100-NORMAL", 1),  // lower than the group: still wins
      Row("user", "alice", "node-a100-HIGH", 3),
  };
  ResolvedQuota r = ResolveQuota(rows, users, kT0);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(Get(r, "alice", "a100", Tier::kNormal), 6);  // max over ml(4), cv(6)
  EXPECT_EQ(Get(r, "alice", "a100", Tier::kHigh), 3);    // own row
  EXPECT_EQ(Get(r, "bob", "a100", Tier::kNormal), 1);    // own row beats group 4
  EXPECT_EQ(Get(r, "carol", "a100", Tier::kNormal), 2);  // public
  EXPECT_EQ(Get(r, "carol", "a100", Tier::kHigh), -1);   // nothing: no quota
}

TEST(QuotaTest, ExpiredAndInactiveRowsDoNotCount) {
  const std::map<std::string, std::vector<std::string>> users = {{"alice", {"ml"}}};
  std::vector<QuotaRow> rows = {
      Row("public", "", "node-a100-NORMAL", 2),
      Row("user", "alice", "node-a100-NORMAL", 9),
      Row("group", "ml", "node-a100-HIGH", 5),
      Row("user", "alice", "node-a100-LOW", 7),
  };
  rows[1].expire_at = kT0;                   // expires exactly now: gone
  rows[2].active = false;                    // inactive: gone
  rows[3].expire_at = kT0 + absl::Hours(1);  // still valid
  ResolvedQuota r = ResolveQuota(rows, users, kT0);
  EXPECT_EQ(Get(r, "alice", "a100", Tier::kNormal), 2);  // falls back to public
  EXPECT_EQ(Get(r, "alice", "a100", Tier::kHigh), -1);
  EXPECT_EQ(Get(r, "alice", "a100", Tier::kLow), 7);
}

TEST(QuotaTest, InvalidRowsAreReportedAndSkipped) {
  const std::map<std::string, std::vector<std::string>> users = {{"alice", {"ml"}}};
  const std::vector<QuotaRow> rows = {
      Row("user", "alice", "node-a100-SUPER", 1),     // unknown tier
      Row("user", "alice", "node-a100-AUTO", 1),      // AUTO is not a tier
      Row("user", "alice", "node-a-100-NORMAL", 1),   // '-' in group name
      Row("user", "alice", "gpu-a100-NORMAL", 1),     // not node-
      Row("user", "alice", "node-a100-NORMAL", -3),   // negative
      Row("group", "nobody", "node-a100-NORMAL", 4),  // no such user group
      Row("team", "ml", "node-a100-NORMAL", 4),       // unknown owner kind
      Row("user", "alice", "jupyter:cpu", 4),         // jupyter: not ours, silent
      Row("user", "alice", "node-a100-high", 2),      // valid (case-insensitive)
  };
  ResolvedQuota r = ResolveQuota(rows, users, kT0);
  ASSERT_EQ(r.problems.size(), 7u);
  EXPECT_EQ(r.problems[0].kind, QuotaProblemKind::kUnknownTier);
  EXPECT_EQ(r.problems[1].kind, QuotaProblemKind::kUnknownTier);
  EXPECT_EQ(r.problems[2].kind, QuotaProblemKind::kMalformedResource);
  EXPECT_EQ(r.problems[3].kind, QuotaProblemKind::kMalformedResource);
  EXPECT_EQ(r.problems[4].kind, QuotaProblemKind::kNegativeQuota);
  EXPECT_EQ(r.problems[5].kind, QuotaProblemKind::kUnknownOwnerGroup);
  EXPECT_EQ(r.problems[6].kind, QuotaProblemKind::kUnknownOwnerKind);
  EXPECT_EQ(r.problems[4].row_index, 4u);
  EXPECT_NE(r.problems[0].message.find("node-a100-SUPER"), std::string::npos);
  EXPECT_EQ(r.quota.size(), 1u);
  EXPECT_EQ(Get(r, "alice", "a100", Tier::kHigh), 2);
}

TEST(QuotaTest, ParseQuotaResource) {
  auto r = ParseQuotaResource("node-h800-EXTREME_HIGH");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->group, "h800");
  EXPECT_EQ(r->tier, Tier::kExtremeHigh);
  QuotaProblemKind why{};
  EXPECT_FALSE(ParseQuotaResource("node--NORMAL", &why).has_value());
  EXPECT_EQ(why, QuotaProblemKind::kMalformedResource);
}

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest() {
    nodes_ = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3", "a100", 4)};
    nodes_.push_back(MakeNode("j1", "dev"));
    nodes_.back().jupyter = true;
    quota_[QuotaKey{"alice", "a100", Tier::kNormal}] = 2;
    quota_[QuotaKey{"alice", "a100", Tier::kLow}] = 3;
  }
  absl::Status Check(int priority, int nodes, int gpus = 0, std::string group = "a100") {
    return CheckAdmissible({"alice", std::move(group), priority, nodes, gpus}, nodes_, quota_);
  }
  std::vector<Node> nodes_;
  std::map<QuotaKey, int64_t> quota_;
};

TEST_F(AdmissionTest, Admits) {
  EXPECT_TRUE(Check(10, 2).ok());
  EXPECT_TRUE(Check(10, 1, 8).ok());
  EXPECT_TRUE(Check(kAutoPriority, 3).ok());  // LOW has 3
}

TEST_F(AdmissionTest, RejectsWithActionableErrors) {
  // Group without training nodes (a jupyter group counts as none).
  EXPECT_EQ(Check(10, 1, 0, "h800").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check(10, 1, 0, "dev").code(), absl::StatusCode::kInvalidArgument);
  // Bigger than the group.
  absl::Status s = Check(kAutoPriority, 4);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("at most 3"), absl::string_view::npos) << s;
  // More GPUs per node than any node has.
  EXPECT_EQ(Check(10, 1, 16).code(), absl::StatusCode::kFailedPrecondition);
  // 8 GPUs per node on 3 nodes: only two nodes have 8.
  EXPECT_EQ(Check(kAutoPriority, 3, 8).code(), absl::StatusCode::kFailedPrecondition);
  // Over the tier quota; AUTO over every tier's quota.
  s = Check(10, 3);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("NORMAL"), absl::string_view::npos) << s;
  EXPECT_EQ(Check(30, 1).code(), absl::StatusCode::kResourceExhausted);  // no HIGH quota
  EXPECT_EQ(Check(kAutoPriority, 3, 4).code(), absl::StatusCode::kOk);
  // Bad shapes.
  EXPECT_EQ(Check(10, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check(7, 1).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AdmissionTest, MaxNodesEver) {
  EXPECT_EQ(MaxNodesEver(nodes_, quota_, "alice", "a100", Tier::kLow), 3);
  EXPECT_EQ(MaxNodesEver(nodes_, quota_, "alice", "a100", Tier::kLow, 8), 2);
  EXPECT_EQ(MaxNodesEver(nodes_, quota_, "alice", "a100", Tier::kHigh), 0);
}

// Priority changes: alice has LOW 3 and NORMAL 2 in a100, nothing at HIGH.
class PriorityChangeTest : public AdmissionTest {
 protected:
  absl::Status Change(Tier to, int nodes, bool holding, Tier from = Tier::kLow) {
    PriorityChange c{
        {"alice", "a100", static_cast<int>(to), nodes, 0}, holding, static_cast<int>(from)};
    return CheckPriorityChange(c, nodes_, quota_, used_);
  }
  std::map<QuotaKey, int64_t> used_;
};

TEST_F(PriorityChangeTest, ATierWithoutQuotaIsRefusedQueuedOrRunning) {
  // The hole this closes: a LOW-only task lifted to a tier nothing may preempt.
  for (bool holding : {false, true}) {
    absl::Status s = Change(Tier::kExtremeHigh, 1, holding);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("EXTREME_HIGH"));
  }
}

TEST_F(PriorityChangeTest, ARunningTaskMovesOnlyWithinTheNewTiersQuota) {
  used_[{"alice", "a100", Tier::kLow}] = 1;  // the task itself
  used_[{"alice", "a100", Tier::kNormal}] = 1;
  // NORMAL quota 2, 1 in use: one more node fits, two do not.
  EXPECT_TRUE(Change(Tier::kNormal, 1, /*holding=*/true).ok());
  absl::Status s = Change(Tier::kNormal, 2, /*holding=*/true);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("already holds 1 of a quota of 2 at NORMAL"));
  // Queued, the same change is fine: the scheduler applies the quota when it starts.
  EXPECT_TRUE(Change(Tier::kNormal, 2, /*holding=*/false).ok());
  // Same tier, or AUTO (applies from the next attempt): nothing moves.
  EXPECT_TRUE(Change(Tier::kLow, 1, /*holding=*/true, Tier::kLow).ok());
  PriorityChange aut{{"alice", "a100", kAutoPriority, 2, 0}, true, static_cast<int>(Tier::kLow)};
  EXPECT_TRUE(CheckPriorityChange(aut, nodes_, quota_, used_).ok());
}

}  // namespace
}  // namespace hai::policy
