// Lowered quotas: the youngest running tasks of the over-quota owner are suspended until the
// rest fits, only when configured; other owners and tiers are untouched. They come out of
// Decide, in Plan::suspends with kind kOverQuota, so every caller applies one plan.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "scheduler/policy/decide.h"
#include "test/unit/policy/builders.h"
#include "test/unit/policy/invariants.h"

namespace hai::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace ::hai::policy::testing;  // NOLINT: snapshot builders

Snapshot ThreeRunningOfAlice() {
  Snapshot s;
  for (int i = 0; i < 4; ++i) s.nodes.push_back(MakeNode(absl::StrCat("n", i)));
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

// The plan's suspensions, after checking the plan against the shared invariants.
std::vector<SuspendDecision> Suspends(const Snapshot& s, const PolicyConfig& c, absl::Time now) {
  Plan p = Decide(s, c, now);
  CheckInvariants(s, c, p, now);
  return p.suspends;
}

TEST(OverQuotaTest, YoungestTasksGoUntilTheRestFits) {
  auto out = Suspends(ThreeRunningOfAlice(), Enforcing(), kT0 + absl::Hours(1));
  // alice holds 3 with quota 1: her two youngest (2 started at +100 s, 3 at +50 s) go.
  EXPECT_THAT(out, ElementsAre(Field(&SuspendDecision::victim_attempt_id, 2),
                               Field(&SuspendDecision::victim_attempt_id, 3)));
  EXPECT_EQ(out[0].preemptor_attempt_id, 0);
  EXPECT_EQ(out[0].kind, SuspendKind::kOverQuota);
  EXPECT_THAT(out[0].reason,
              HasSubstr("alice holds 3 node(s) at NORMAL in group a100, quota is 1"));
}

TEST(OverQuotaTest, OffByDefaultSoALoweredQuotaOnlyStopsNewStarts) {
  EXPECT_THAT(Suspends(ThreeRunningOfAlice(), PolicyConfig{}, kT0), IsEmpty());
}

TEST(OverQuotaTest, TasksAlreadyLeavingDoNotCount) {
  Snapshot s = ThreeRunningOfAlice();
  s.running[1].suspend_requested = true;  // task 2 is already being suspended
  auto out = Suspends(s, Enforcing(), kT0 + absl::Hours(1));
  EXPECT_THAT(out, ElementsAre(Field(&SuspendDecision::victim_attempt_id, 3)));
}

TEST(OverQuotaTest, MissingQuotaRowMeansZero) {
  Snapshot s = ThreeRunningOfAlice();
  s.quota.clear();
  EXPECT_EQ(Suspends(s, Enforcing(), kT0 + absl::Hours(1)).size(), 4u);
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
  EXPECT_EQ(Suspends(s, c, kT0 + absl::Minutes(10)).size(), 1u);
  EXPECT_THAT(Suspends(s, c, kT0 + absl::Minutes(31)), IsEmpty());
}

// When the over-quota suspensions were a second call after Decide, Decide did not know
// about them: a HIGH task needing one node suspended bob's LOW task although alice's
// over-quota task was about to free a node anyway (bob lost his work for nothing), and a
// victim could be named twice, once per call. Now the over-quota victims' nodes count as
// being freed in the same pass, and the preemptor claims them instead.
TEST(OverQuotaTest, APreemptorTakesTheNodesAnOverQuotaTaskFreesInsteadOfAnotherVictim) {
  Snapshot s;
  s.nodes = {MakeNode("n0"), MakeNode("n1")};
  s.running.push_back(Running(1, "alice", Tier::kNormal, {{"n0", {}}}, 0, 0));
  s.running.push_back(Running(2, "bob", Tier::kLow, {{"n1", {}}}, 0, 0));
  s.queued.push_back(Queued(3, "carol", Tier::kHigh, 1, 0, 600));
  SetQuota(s, "alice", Tier::kNormal, 0);  // lowered below the node she holds
  SetQuota(s, "bob", Tier::kLow, 1);
  SetQuota(s, "carol", Tier::kHigh, 1);
  const absl::Time now = kT0 + absl::Hours(1);
  Plan p = Decide(s, Enforcing(), now);
  CheckInvariants(s, Enforcing(), p, now);
  // Only alice's task goes; carol waits for n0, which it frees; bob keeps running.
  ASSERT_THAT(p.suspends, ElementsAre(Field(&SuspendDecision::victim_attempt_id, 1)));
  EXPECT_EQ(p.suspends[0].kind, SuspendKind::kOverQuota);
  const Pending* w = FindPending(p, 3);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->reason, PendingReason::kWaitingForPreemption);
  EXPECT_EQ(w->reserved_nodes, std::vector<std::string>{"n0"});

  // With one node only, the over-quota victim is also the one preemption would pick: it
  // is named once.
  s.nodes = {MakeNode("n0")};
  s.running = {Running(1, "alice", Tier::kLow, {{"n0", {}}}, 0, 0)};
  SetQuota(s, "alice", Tier::kLow, 0);
  p = Decide(s, Enforcing(), now);
  CheckInvariants(s, Enforcing(), p, now);
  EXPECT_THAT(p.suspends, ElementsAre(Field(&SuspendDecision::kind, SuspendKind::kOverQuota)));
  EXPECT_EQ(FindPending(p, 3)->reason, PendingReason::kWaitingForPreemption);
}

}  // namespace
}  // namespace hai::policy
