// Lowered quotas: the youngest running tasks of the over-quota owner are suspended until the
// rest fits, only when configured; other owners and tiers are untouched.
#include "scheduler/policy/over_quota.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test/unit/policy/builders.h"

namespace hai::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace ::hai::policy::testing;  // NOLINT: snapshot builders

Snapshot ThreeRunningOfAlice() {
  Snapshot s;
  for (int i = 0; i < 4; ++i) s.nodes.push_back(MakeNode("n" + std::to_string(i)));
  s.running.push_back(Running(1, "alice", Tier::kNormal, {{"n0", {}}}, 0, /*started_s=*/0));
  s.running.push_back(Running(2, "alice", Tier::kNormal, {{"n1", {}}}, 0, /*started_s=*/100));
  s.running.push_back(Running(3, "alice", Tier::kNormal, {{"n2", {}}}, 0, /*started_s=*/50));
  s.running.push_back(Running(4, "bob", Tier::kNormal, {{"n3", {}}}, 0, /*started_s=*/200));
  SetQuota(s, "alice", Tier::kNormal, 1);
  SetQuota(s, "bob", Tier::kNormal, 1);
  return s;
}

PolicyConfig Enforcing() {
  PolicyConfig c;
  c.suspend_over_quota = true;
  return c;
}

TEST(OverQuotaTest, YoungestTasksGoUntilTheRestFits) {
  auto out = OverQuotaSuspensions(ThreeRunningOfAlice(), Enforcing(), kT0 + absl::Hours(1));
  // alice holds 3 with quota 1: her two youngest (2 started at +100 s, 3 at +50 s) go.
  EXPECT_THAT(out, ElementsAre(Field(&SuspendDecision::victim_attempt_id, 2),
                               Field(&SuspendDecision::victim_attempt_id, 3)));
  EXPECT_EQ(out[0].preemptor_attempt_id, 0);
  EXPECT_THAT(out[0].reason, HasSubstr("alice holds 3 node(s) at NORMAL in group a100, quota is 1"));
}

TEST(OverQuotaTest, OffByDefaultSoALoweredQuotaOnlyStopsNewStarts) {
  EXPECT_THAT(OverQuotaSuspensions(ThreeRunningOfAlice(), PolicyConfig{}, kT0), IsEmpty());
}

TEST(OverQuotaTest, TasksAlreadyLeavingDoNotCount) {
  Snapshot s = ThreeRunningOfAlice();
  s.running[1].suspend_requested = true;  // task 2 is already being suspended
  auto out = OverQuotaSuspensions(s, Enforcing(), kT0 + absl::Hours(1));
  EXPECT_THAT(out, ElementsAre(Field(&SuspendDecision::victim_attempt_id, 3)));
}

TEST(OverQuotaTest, MissingQuotaRowMeansZero) {
  Snapshot s = ThreeRunningOfAlice();
  s.quota.clear();
  EXPECT_EQ(OverQuotaSuspensions(s, Enforcing(), kT0 + absl::Hours(1)).size(), 4u);
}

TEST(OverQuotaTest, DemotedAboveNormalCountsAtNormal) {
  Snapshot s;
  s.nodes.push_back(MakeNode("n0"));
  s.running.push_back(Running(7, "carol", Tier::kAboveNormal, {{"n0", {}}}, 0, 0));
  SetQuota(s, "carol", Tier::kAboveNormal, 0);
  SetQuota(s, "carol", Tier::kNormal, 1);
  PolicyConfig c = Enforcing();
  c.above_normal_demote_after = absl::Minutes(30);
  // Before the demotion it is over its (zero) ABOVE_NORMAL quota; after, it fits NORMAL.
  EXPECT_EQ(OverQuotaSuspensions(s, c, kT0 + absl::Minutes(10)).size(), 1u);
  EXPECT_THAT(OverQuotaSuspensions(s, c, kT0 + absl::Minutes(31)), IsEmpty());
}

}  // namespace
}  // namespace hai::policy
