// PlanApplier: every path of applying a plan against an in-memory store: starts, stale
// starts, preemption and over-quota suspensions, stale suspensions, demotions, and the
// preemption holds a plan carries into the next pass.
#include "scheduler/loop/plan_applier.h"

#include <gtest/gtest.h>

#include "test/unit/loop/builders.h"
#include "test/unit/loop/fakes.h"

namespace hai {
namespace {

using testing::FakeLoopStore;
using testing::FakeNotifier;
using testing::Queued;
using testing::Running;

class PlanApplierTest : public ::testing::Test {
 protected:
  OpenAttemptMap Open() const { return store_.open; }
  AppliedPlan Apply(const policy::Plan& plan) { return applier_.Apply(plan, store_.open); }

  FakeLoopStore store_;
  FakeNotifier notifier_;
  Metrics metrics_;
  PlanApplier applier_{store_, notifier_, metrics_};
};

policy::StartDecision StartOn(int64_t attempt, const std::string& node, policy::Tier tier) {
  return {attempt, tier, {{node, {}}}};
}

TEST_F(PlanApplierTest, AStartSchedulesTheAttemptAtItsResolvedTierAndAsksForItsManager) {
  store_.Put(Queued(1, /*AUTO*/ -1));
  policy::Plan plan;
  plan.starts.push_back(StartOn(1, "n0", policy::Tier::kLow));
  const AppliedPlan applied = Apply(plan);
  EXPECT_EQ(applied.started, std::vector<int64_t>{1});
  EXPECT_TRUE(applied.stale.empty());
  const store::AttemptRow& a = store_.open.at(1).attempt;
  EXPECT_EQ(a.state, model::AttemptState::kScheduled);
  EXPECT_EQ(a.tier, static_cast<int>(policy::Tier::kLow));
  ASSERT_EQ(a.pods.size(), 1u);
  EXPECT_EQ(a.pods[0].node, "n0");
  EXPECT_EQ(metrics_.attempts_started, 1);
  EXPECT_EQ(metrics_.stale_decisions, 0);
}

TEST_F(PlanApplierTest, AStaleStartFailsAloneAndIsReportedForRecheck) {
  store_.Put(Queued(1));
  store_.Put(Queued(2));
  store_.stale.insert(1);  // e.g. stopped since the snapshot
  policy::Plan plan;
  plan.starts.push_back(StartOn(1, "n0", policy::Tier::kNormal));
  plan.starts.push_back(StartOn(2, "n1", policy::Tier::kNormal));
  const AppliedPlan applied = Apply(plan);
  EXPECT_EQ(applied.started, std::vector<int64_t>{2});
  EXPECT_EQ(applied.stale, std::vector<int64_t>{1});
  EXPECT_EQ(store_.open.at(1).attempt.state, model::AttemptState::kQueued);
  EXPECT_EQ(metrics_.attempts_started, 1);
  EXPECT_EQ(metrics_.stale_decisions, 1);
}

TEST_F(PlanApplierTest, AStartOfAnAttemptNoLongerQueuedIsStale) {
  store_.Put(Running(1, {"n0"}));
  policy::Plan plan;
  plan.starts.push_back(StartOn(1, "n1", policy::Tier::kNormal));
  const AppliedPlan applied = Apply(plan);
  EXPECT_TRUE(applied.started.empty());
  EXPECT_EQ(applied.stale, std::vector<int64_t>{1});
  EXPECT_EQ(store_.open.at(1).attempt.pods[0].node, "n0");  // untouched
}

TEST_F(PlanApplierTest, APreemptionRecordsThePreemptorsChainAndTellsTheVictimsManager) {
  store_.Put(Running(1, {"n0"}, /*tier=*/0));
  store_.Put(Queued(2, /*priority=*/30));
  policy::Plan plan;
  plan.suspends.push_back({1, 2, "preempted by task-2", policy::SuspendKind::kPreemption});
  const AppliedPlan applied = Apply(plan);
  EXPECT_TRUE(applied.stale.empty());
  ASSERT_EQ(store_.suspends.size(), 1u);
  EXPECT_EQ(store_.suspends[0].attempt_id, 1);
  EXPECT_EQ(store_.suspends[0].preemptor_chain, store_.open.at(2).chain.chain_id);
  EXPECT_EQ(store_.suspends[0].reason, "preempted by task-2");
  EXPECT_EQ(store_.suspends[0].actor, "scheduler");
  ASSERT_EQ(notifier_.told.size(), 1u);
  EXPECT_EQ(notifier_.told[0], std::make_pair(int64_t{1}, std::string("suspend")));
  EXPECT_EQ(metrics_.suspends_requested, 1);
}

TEST_F(PlanApplierTest, AnOverQuotaSuspensionIsTheQuotasDoingWithNoPreemptor) {
  store_.Put(Running(1, {"n0"}));
  policy::Plan plan;
  plan.suspends.push_back({1, 0, "over quota", policy::SuspendKind::kOverQuota});
  Apply(plan);
  ASSERT_EQ(store_.suspends.size(), 1u);
  EXPECT_EQ(store_.suspends[0].preemptor_chain, 0);
  EXPECT_EQ(store_.suspends[0].actor, "quota");
  EXPECT_EQ(notifier_.told.size(), 1u);
}

TEST_F(PlanApplierTest, AStaleSuspensionTellsNoManager) {
  store_.Put(Running(1, {"n0"}));
  store_.Close(1);  // it ended since the snapshot
  policy::Plan plan;
  plan.suspends.push_back({1, 0, "over quota", policy::SuspendKind::kOverQuota});
  const AppliedPlan applied = Apply(plan);
  EXPECT_EQ(applied.stale, std::vector<int64_t>{1});
  EXPECT_TRUE(notifier_.told.empty());
  EXPECT_EQ(metrics_.suspends_requested, 0);
}

TEST_F(PlanApplierTest, ADemotionIsGuardedByTheTierItExpects) {
  store_.Put(Running(1, {"n0"}, static_cast<int>(policy::Tier::kAboveNormal)));
  store_.Put(Running(2, {"n1"}, static_cast<int>(policy::Tier::kNormal)));  // already moved
  policy::Plan plan;
  plan.demotions.push_back({1, policy::Tier::kAboveNormal, policy::Tier::kNormal});
  plan.demotions.push_back({2, policy::Tier::kAboveNormal, policy::Tier::kNormal});
  const AppliedPlan applied = Apply(plan);
  EXPECT_EQ(store_.open.at(1).attempt.tier, static_cast<int>(policy::Tier::kNormal));
  EXPECT_EQ(applied.stale, std::vector<int64_t>{2});
}

TEST_F(PlanApplierTest, DecisionsLandInOrderDemotionsSuspensionsStarts) {
  // A victim is told before its preemptor's manager starts, so the preemptor's ranks find
  // the victims already checkpointing; a demotion first so a suspension in the same plan
  // sees the tier it was decided at.
  store_.Put(Running(1, {"n0"}, 0));
  store_.Put(Queued(2, 30));
  store_.Put(Running(3, {"n2"}, static_cast<int>(policy::Tier::kAboveNormal)));
  policy::Plan plan;
  plan.starts.push_back(StartOn(2, "n1", policy::Tier::kHigh));
  plan.suspends.push_back({1, 2, "preempted", policy::SuspendKind::kPreemption});
  plan.demotions.push_back({3, policy::Tier::kAboveNormal, policy::Tier::kNormal});
  Apply(plan);
  EXPECT_EQ(store_.writes, (std::vector<std::string>{"tier 3", "suspend 1", "schedule 2"}));
}

TEST(HoldsOfTest, OnlyTasksWaitingForTheirPreemptionsCarryTheirNodesForward) {
  policy::Plan plan;
  policy::Pending preemptor;
  preemptor.attempt_id = 7;
  preemptor.reason = policy::PendingReason::kWaitingForPreemption;
  preemptor.reserved_nodes = {"n0", "n1"};
  policy::Pending head;  // a head-of-tier reservation is recomputed each pass, not carried
  head.attempt_id = 8;
  head.reason = policy::PendingReason::kWaitingForNodes;
  head.reserved_nodes = {"n2"};
  policy::Pending nothing_held;
  nothing_held.attempt_id = 9;
  nothing_held.reason = policy::PendingReason::kWaitingForPreemption;
  plan.pending = {preemptor, head, nothing_held};
  const PreemptionHolds holds = HoldsOf(plan);
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_EQ(holds.at(7), (std::vector<std::string>{"n0", "n1"}));
}

}  // namespace
}  // namespace hai
