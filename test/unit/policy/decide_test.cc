// Table tests of Decide, one rule per test; the expected outcome is commented at each step.
#include "scheduler/policy/decide.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scheduler/policy/tier.h"
#include "test/unit/policy/builders.h"

namespace hai::policy {
namespace {

using namespace ::hai::policy::testing;  // NOLINT: test builders

const absl::Time kNow = kT0 + absl::Hours(10);

PolicyConfig Config() { return PolicyConfig{}; }

std::vector<std::string> Nodes(const StartDecision& s) {
  std::vector<std::string> out;
  for (const RankPlacement& p : s.placement) out.push_back(p.node);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DecideOrderTest, HigherTierFirstThenFirstSubmitThenAttemptId) {
  Snapshot s;
  s.nodes = {MakeNode("n1")};  // one free node
  s.queued = {Queued(1, "u", Tier::kNormal, 1, 0, /*submit_s=*/0),
              Queued(2, "u", Tier::kHigh, 1, 0, /*submit_s=*/50),
              Queued(4, "u", Tier::kNormal, 1, 0, /*submit_s=*/10),
              Queued(3, "u", Tier::kNormal, 1, 0, /*submit_s=*/10)};
  GenerousQuota(s, {"u"});
  Plan p = Decide(s, Config(), kNow);
  // HIGH wins despite submitting last.
  ASSERT_EQ(p.starts.size(), 1u);
  EXPECT_EQ(p.starts[0].attempt_id, 2);
  EXPECT_EQ(p.starts[0].tier, Tier::kHigh);
  // NORMAL: 1 (oldest), then 3 and 4 tie on submit -> attempt id.
  ASSERT_EQ(p.pending.size(), 3u);
  EXPECT_EQ(p.pending[0].attempt_id, 1);
  EXPECT_EQ(p.pending[0].position_in_tier, 1);
  EXPECT_EQ(p.pending[1].attempt_id, 3);
  EXPECT_EQ(p.pending[1].position_in_tier, 2);
  EXPECT_EQ(p.pending[2].attempt_id, 4);
  EXPECT_EQ(p.pending[2].position_in_tier, 3);
  // 1 is the head: it holds n1... n1 is taken by 2, so it waits for a node to free up.
  EXPECT_EQ(p.pending[0].reason, PendingReason::kWaitingForNodes);
  EXPECT_EQ(p.pending[0].missing_nodes, 1);
}

TEST(DecideQuotaTest, OutOfQuotaNeverFitsNoSuchGroupHeld) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  s.running = {Running(10, "u", Tier::kNormal, {{"n1", {}}})};
  SetQuota(s, "u", Tier::kNormal, 1);  // u may hold 1 NORMAL node; holds 1 already
  SetQuota(s, "u", Tier::kHigh, 2);
  s.queued = {Queued(1, "u", Tier::kNormal, 1),              // OUT_OF_QUOTA (1 + 1 > 1)
              Queued(2, "u", Tier::kHigh, 3),                // NEVER_FITS (quota 2 < 3)
              Queued(3, "u", Tier::kLow, 1),                 // NEVER_FITS (no LOW quota)
              Queued(4, "u", Tier::kHigh, 4),                // NEVER_FITS (group has 3)
              Queued(5, "u", Tier::kHigh, 1, 0, 0, "h800"),  // NO_SUCH_GROUP
              Queued(6, "u", Tier::kHigh, 1)};               // held
  s.queued.back().held = true;
  Plan p = Decide(s, Config(), kNow);
  EXPECT_TRUE(p.starts.empty());
  EXPECT_EQ(FindPending(p, 1)->reason, PendingReason::kOutOfQuota);
  EXPECT_EQ(FindPending(p, 1)->missing_nodes, 1);
  EXPECT_EQ(FindPending(p, 2)->reason, PendingReason::kNeverFits);
  EXPECT_EQ(FindPending(p, 3)->reason, PendingReason::kNeverFits);
  EXPECT_EQ(FindPending(p, 4)->reason, PendingReason::kNeverFits);
  EXPECT_EQ(FindPending(p, 5)->reason, PendingReason::kNoSuchGroup);
  EXPECT_EQ(FindPending(p, 6)->reason, PendingReason::kHeld);
  // The lines a user reads, written from the facts Decide recorded.
  EXPECT_EQ(DetailOf(s, p, 1),
            "user u holds 1 of 1 NORMAL nodes in group a100; waits until 1 node of that quota "
            "free up");
  EXPECT_EQ(DetailOf(s, p, 2),
            "needs 3 nodes but the HIGH quota of user u in group a100 is 2; use fewer nodes, "
            "another priority, or ask for quota");
  EXPECT_EQ(DetailOf(s, p, 3),
            "needs 1 node but the LOW quota of user u in group a100 is 0; use fewer nodes, "
            "another priority, or ask for quota");
  EXPECT_EQ(DetailOf(s, p, 4),
            "needs 4 nodes but group a100 has only 3; resubmit with fewer nodes or GPUs");
  EXPECT_EQ(DetailOf(s, p, 5), "node group 'h800' has no nodes; resubmit with another group");
  EXPECT_EQ(DetailOf(s, p, 6), "held by its owner; resume it to queue it again");
}

TEST(DecideQuotaTest, QuotaCountsNodesOfTheTierAndPackedTasksAsOneNode) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2")};
  SetQuota(s, "u", Tier::kNormal, 2);
  // Two 1-GPU tasks: each counts as 1 node -> quota 2 is used up by them.
  s.queued = {Queued(1, "u", Tier::kNormal, 1, 1), Queued(2, "u", Tier::kNormal, 1, 1),
              Queued(3, "u", Tier::kNormal, 1, 1)};
  Plan p = Decide(s, Config(), kNow);
  EXPECT_EQ(p.starts.size(), 2u);
  EXPECT_EQ(FindPending(p, 3)->reason, PendingReason::kOutOfQuota);
  // Both packed onto the same node (best fit keeps n2 whole).
  EXPECT_EQ(p.starts[0].placement[0].node, "n1");
  EXPECT_EQ(p.starts[1].placement[0].node, "n1");
  EXPECT_EQ(p.starts[0].placement[0].gpus, std::vector<int>{0});
  EXPECT_EQ(p.starts[1].placement[0].gpus, std::vector<int>{1});
}

TEST(DecideQuotaTest, AutoTakesHighestTierWithRemainingQuota) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3"), MakeNode("n4")};
  SetQuota(s, "u", Tier::kHigh, 1);
  SetQuota(s, "u", Tier::kNormal, 2);
  s.running = {Running(10, "v", Tier::kLow, {{"n4", {}}})};
  s.queued = {QueuedAuto(1, "u", 1, 0),   // HIGH (1 of 1)
              QueuedAuto(2, "u", 1, 1),   // HIGH is used by 1 -> NORMAL
              QueuedAuto(3, "u", 2, 2)};  // NORMAL has 1 left, needs 2 -> waits at NORMAL
  Plan p = Decide(s, Config(), kNow);
  ASSERT_NE(FindStart(p, 1), nullptr);
  EXPECT_EQ(FindStart(p, 1)->tier, Tier::kHigh);
  ASSERT_NE(FindStart(p, 2), nullptr);
  EXPECT_EQ(FindStart(p, 2)->tier, Tier::kNormal);
  ASSERT_NE(FindPending(p, 3), nullptr);
  EXPECT_EQ(FindPending(p, 3)->tier, Tier::kNormal);
  EXPECT_EQ(FindPending(p, 3)->reason, PendingReason::kOutOfQuota);
}

TEST(DecidePlacementTest, BestFitPackingKeepsWholeNodesFree) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  s.running = {Running(10, "v", Tier::kNormal, {{"n1", {0, 1, 2, 3, 4, 5}}}, 6),  // 2 free
               Running(11, "v", Tier::kNormal, {{"n2", {0, 1, 2, 3}}}, 4)};       // 4 free
  GenerousQuota(s, {"u", "v"});
  s.queued = {Queued(1, "u", Tier::kNormal, 1, 3, 0),   // n2 (4 free): n1 has only 2
              Queued(2, "u", Tier::kNormal, 1, 2, 1),   // n1 (2 free, tightest fit)
              Queued(3, "u", Tier::kNormal, 1, 2, 2),   // n3 (whole node: nothing else fits)
              Queued(4, "u", Tier::kNormal, 1, 0, 3)};  // whole node: none left -> waits
  Plan p = Decide(s, Config(), kNow);
  ASSERT_EQ(p.starts.size(), 3u);
  EXPECT_EQ(FindStart(p, 1)->placement[0].node, "n2");
  EXPECT_EQ(FindStart(p, 1)->placement[0].gpus, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(FindStart(p, 2)->placement[0].node, "n1");
  EXPECT_EQ(FindStart(p, 2)->placement[0].gpus, (std::vector<int>{6, 7}));
  EXPECT_EQ(FindStart(p, 3)->placement[0].node, "n3");
  EXPECT_EQ(FindPending(p, 4)->reason, PendingReason::kWaitingForNodes);
}

TEST(DecidePlacementTest, WholeNodesInTheFewestDomains) {
  Snapshot s;
  // s1: 2 free nodes, s2: 3 free nodes, s3 (room r2): 4 free nodes.
  s.nodes = {MakeNode("a1", "a100", 8, "s1"),       MakeNode("a2", "a100", 8, "s1"),
             MakeNode("b1", "a100", 8, "s2"),       MakeNode("b2", "a100", 8, "s2"),
             MakeNode("b3", "a100", 8, "s2"),       MakeNode("c1", "a100", 8, "s3", "r2"),
             MakeNode("c2", "a100", 8, "s3", "r2"), MakeNode("c3", "a100", 8, "s3", "r2"),
             MakeNode("c4", "a100", 8, "s3", "r2")};
  GenerousQuota(s, {"u"});
  s.queued = {Queued(1, "u", Tier::kNormal, 3, 0, 0),   // s2 exactly (smallest switch >= 3)
              Queued(2, "u", Tier::kNormal, 2, 8, 1),   // s1 exactly
              Queued(3, "u", Tier::kNormal, 4, 0, 2)};  // s3 (the only switch left)
  Plan p = Decide(s, Config(), kNow);
  ASSERT_EQ(p.starts.size(), 3u);
  EXPECT_EQ(Nodes(*FindStart(p, 1)), (std::vector<std::string>{"b1", "b2", "b3"}));
  EXPECT_EQ(Nodes(*FindStart(p, 2)), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(FindStart(p, 2)->placement[0].gpus.size(), 8u);
  EXPECT_EQ(Nodes(*FindStart(p, 3)), (std::vector<std::string>{"c1", "c2", "c3", "c4"}));
}

TEST(DecidePlacementTest, OnlyReadyNodesOfTheGroupAndNeverJupyter) {
  Snapshot s;
  s.nodes = {MakeNode("n1", "a100", 8, "s1", "r1", NodeState::kCordoned),
             MakeNode("n2", "a100", 8, "s1", "r1", NodeState::kDraining),
             MakeNode("n3", "a100", 8, "s1", "r1", NodeState::kUnhealthy),
             MakeNode("n4", "a100", 8, "s1", "r1", NodeState::kOffline),
             MakeNode("n5", "h800"),
             MakeNode("j1", "a100")};
  s.nodes.back().jupyter = true;
  // A task already on the cordoned node keeps running (no suspend).
  s.running = {Running(10, "v", Tier::kLow, {{"n1", {}}})};
  GenerousQuota(s, {"u", "v"});
  s.queued = {Queued(1, "u", Tier::kHigh, 1)};
  Plan p = Decide(s, Config(), kNow);
  EXPECT_TRUE(p.starts.empty());
  EXPECT_TRUE(p.suspends.empty());  // n1 is cordoned: clearing it would not help
  ASSERT_NE(FindPending(p, 1), nullptr);
  EXPECT_EQ(FindPending(p, 1)->reason, PendingReason::kWaitingForNodes);
  EXPECT_NE(DetailOf(s, p, 1).find("only 0 nodes of the group are ready"), std::string::npos)
      << DetailOf(s, p, 1);
}

// --- preemption -----------------------------------------------------------------------

Snapshot FourNodes() {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3"), MakeNode("n4")};
  GenerousQuota(s, {"u", "v", "w"});
  return s;
}

TEST(DecidePreemptionTest, SuspendsLowestTierThenShortestRunning) {
  Snapshot s = FourNodes();
  s.running = {Running(10, "v", Tier::kNormal, {{"n1", {}}}, 0, 0),
               Running(11, "v", Tier::kLow, {{"n2", {}}}, 0, /*started_s=*/100),
               Running(12, "w", Tier::kLow, {{"n3", {}}}, 0, /*started_s=*/200),
               Running(13, "w", Tier::kHigh, {{"n4", {}}}, 0, 0)};
  s.queued = {Queued(1, "u", Tier::kHigh, 1)};
  Plan p = Decide(s, Config(), kNow);
  // Needs 1 node, none free: the LOW task started last (12, on n3) loses least.
  ASSERT_EQ(p.suspends.size(), 1u);
  EXPECT_EQ(p.suspends[0].victim_attempt_id, 12);
  EXPECT_EQ(p.suspends[0].preemptor_attempt_id, 1);
  const Pending* w = FindPending(p, 1);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->reason, PendingReason::kWaitingForPreemption);
  EXPECT_EQ(w->reserved_nodes, std::vector<std::string>{"n3"});
  EXPECT_EQ(w->missing_nodes, 1);
}

TEST(DecidePreemptionTest, GangOnlyNeverEqualTierAndMinRuntimeProtects) {
  Snapshot s = FourNodes();
  s.running = {Running(10, "v", Tier::kNormal, {{"n1", {}}}),
               Running(11, "v", Tier::kLow, {{"n2", {}}}),
               Running(12, "w", Tier::kHigh, {{"n3", {}}}),  // equal tier: never a victim
               Running(13, "w", Tier::kLow, {{"n4", {}}}, 0, /*started_s=*/36000 - 60)};
  s.queued = {Queued(1, "u", Tier::kHigh, 4)};
  PolicyConfig c;
  c.min_runtime[Tier::kLow] = absl::Minutes(5);  // 13 started 1 minute ago: protected
  Plan p = Decide(s, c, kNow);
  // Victims could free n1, n2 only: 2 < 4, so nobody is suspended (no thrash).
  EXPECT_TRUE(p.suspends.empty());
  EXPECT_EQ(FindPending(p, 1)->reason, PendingReason::kWaitingForNodes);
  // Needing 3: n1, n2 + protected n4 + equal-tier n3: still no.
  s.queued = {Queued(1, "u", Tier::kHigh, 3)};
  EXPECT_TRUE(Decide(s, c, kNow).suspends.empty());
  // Needing 2: n1 (NORMAL) and n2 (LOW) both go.
  s.queued = {Queued(1, "u", Tier::kHigh, 2)};
  p = Decide(s, c, kNow);
  ASSERT_EQ(p.suspends.size(), 2u);
  EXPECT_EQ(p.suspends[0].victim_attempt_id, 11);  // LOW first
  EXPECT_EQ(p.suspends[1].victim_attempt_id, 10);
  EXPECT_EQ(FindPending(p, 1)->reserved_nodes, (std::vector<std::string>{"n1", "n2"}));
}

TEST(DecidePreemptionTest, SuspendRequestedVictimsCountAsFreeingAndNodesStayHeld) {
  Snapshot s = FourNodes();
  s.running = {
      Running(10, "v", Tier::kLow, {{"n1", {}}}), Running(11, "v", Tier::kLow, {{"n2", {}}}),
      Running(12, "v", Tier::kLow, {{"n3", {}}}), Running(13, "v", Tier::kLow, {{"n4", {}}})};
  s.queued = {Queued(1, "u", Tier::kHigh, 2, 0, 0), Queued(2, "w", Tier::kNormal, 1, 0, 5)};
  Plan p = Decide(s, Config(), kNow);
  // Pass 1: HIGH 1 suspends two LOW tasks; NORMAL 2 suspends a third for itself.
  ASSERT_EQ(p.suspends.size(), 3u);
  std::vector<int64_t> for_one;
  for (const SuspendDecision& d : p.suspends) {
    if (d.preemptor_attempt_id == 1) for_one.push_back(d.victim_attempt_id);
  }
  EXPECT_EQ(for_one.size(), 2u);
  const std::vector<std::string> held = FindPending(p, 1)->reserved_nodes;

  // Pass 2: the daemon marked them suspend-requested; they still hold their nodes.
  for (Task& t : s.running) {
    for (const SuspendDecision& d : p.suspends) {
      if (d.victim_attempt_id == t.attempt_id) t.suspend_requested = true;
    }
  }
  Plan p2 = Decide(s, Config(), kNow);
  EXPECT_TRUE(p2.suspends.empty());  // nobody else is suspended for the same preemptors
  EXPECT_TRUE(p2.starts.empty());
  EXPECT_EQ(FindPending(p2, 1)->reason, PendingReason::kWaitingForPreemption);
  EXPECT_EQ(FindPending(p2, 1)->reserved_nodes, held);  // the same nodes stay held
  EXPECT_EQ(FindPending(p2, 2)->reason, PendingReason::kWaitingForPreemption);

  // Pass 3: the victims stopped; both start on the nodes that were held for them.
  std::erase_if(s.running, [](const Task& t) { return t.suspend_requested; });
  Plan p3 = Decide(s, Config(), kNow);
  ASSERT_EQ(p3.starts.size(), 2u);
  EXPECT_EQ(Nodes(*FindStart(p3, 1)), held);
}

TEST(DecidePreemptionTest, PackedPreemptionFreesGpusOnOneNode) {
  Snapshot s;
  s.nodes = {MakeNode("n1", "a100", 4), MakeNode("n2", "a100", 4)};
  GenerousQuota(s, {"u", "v"});
  s.running = {Running(10, "v", Tier::kNormal, {{"n1", {0, 1}}}, 2),
               Running(11, "v", Tier::kLow, {{"n1", {2, 3}}}, 2),
               Running(12, "v", Tier::kLow, {{"n2", {0, 1, 2}}}, 3, 100),
               Running(13, "v", Tier::kHigh, {{"n2", {3}}}, 1)};
  s.queued = {Queued(1, "u", Tier::kHigh, 1, 3)};
  Plan p = Decide(s, Config(), kNow);
  // LOW 12 (started last) frees 3 GPUs on n2: enough. 11 would free only 2 on n1.
  ASSERT_EQ(p.suspends.size(), 1u);
  EXPECT_EQ(p.suspends[0].victim_attempt_id, 12);
  EXPECT_EQ(FindPending(p, 1)->reserved_nodes, std::vector<std::string>{"n2"});
}

TEST(DecidePreemptionTest, DisabledMeansNoSuspends) {
  Snapshot s = FourNodes();
  s.running = {
      Running(10, "v", Tier::kLow, {{"n1", {}}}), Running(11, "v", Tier::kLow, {{"n2", {}}}),
      Running(12, "v", Tier::kLow, {{"n3", {}}}), Running(13, "v", Tier::kLow, {{"n4", {}}})};
  s.queued = {Queued(1, "u", Tier::kExtremeHigh, 1)};
  PolicyConfig c;
  c.preemption = false;
  Plan p = Decide(s, c, kNow);
  EXPECT_TRUE(p.suspends.empty());
  EXPECT_EQ(FindPending(p, 1)->reason, PendingReason::kWaitingForNodes);
}

TEST(DecideDemotionTest, AboveNormalRunsAsNormalAfterThirtyMinutes) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2")};
  GenerousQuota(s, {"u", "v"});
  s.running = {Running(10, "v", Tier::kAboveNormal, {{"n1", {}}}, 0, 0),            // ran 10 h
               Running(11, "v", Tier::kAboveNormal, {{"n2", {}}}, 0, 36000 - 60)};  // 1 min
  s.queued = {Queued(1, "u", Tier::kAboveNormal, 1)};
  Plan p = Decide(s, Config(), kNow);
  // 10 is demoted to NORMAL, and as NORMAL it is a victim for the ABOVE_NORMAL task.
  ASSERT_EQ(p.demotions.size(), 1u);
  EXPECT_EQ(p.demotions[0].attempt_id, 10);
  EXPECT_EQ(p.demotions[0].to, Tier::kNormal);
  ASSERT_EQ(p.suspends.size(), 1u);
  EXPECT_EQ(p.suspends[0].victim_attempt_id, 10);
}

// --- reservations and starvation ------------------------------------------------------

TEST(DecideReservationTest, HeadHoldsFreeNodesLaterTasksAreBlocked) {
  Snapshot s = FourNodes();
  s.running = {Running(10, "v", Tier::kNormal, {{"n1", {}}}),
               Running(11, "v", Tier::kNormal, {{"n2", {}}})};
  s.queued = {Queued(1, "u", Tier::kNormal, 4, 0, 0),  // head: 2 free, needs 4
              Queued(2, "w", Tier::kNormal, 1, 0, 5),  // would fit on n3: blocked
              Queued(3, "w", Tier::kLow, 1, 0, 6)};    // lower tier: blocked too
  Plan p = Decide(s, Config(), kNow);
  EXPECT_TRUE(p.starts.empty());
  EXPECT_TRUE(p.suspends.empty());  // equal tier: no preemption
  const Pending* head = FindPending(p, 1);
  EXPECT_EQ(head->reason, PendingReason::kWaitingForNodes);
  EXPECT_EQ(head->missing_nodes, 2);
  // It holds the 2 free nodes and the 2 busy ones, so they drain to it.
  EXPECT_EQ(head->reserved_nodes, (std::vector<std::string>{"n1", "n2", "n3", "n4"}));
  EXPECT_EQ(DetailOf(s, p, 1),
            "needs 4 nodes in group a100, 2 free; 2 more must free up; first in line at "
            "NORMAL, 4 nodes held for it");
  EXPECT_EQ(FindPending(p, 2)->reason, PendingReason::kBlockedByReservation);
  EXPECT_EQ(FindPending(p, 3)->reason, PendingReason::kBlockedByReservation);
  EXPECT_EQ(FindPending(p, 3)->position_in_tier, 1);
}

// A 16-node NORMAL task must start while 1-node NORMAL tasks keep arriving: every pass one
// running task finishes and a new 1-node task is submitted.
TEST(DecideReservationTest, BigTaskIsNotStarvedBySmallArrivals) {
  Snapshot s;
  for (int i = 0; i < 16; ++i) s.nodes.push_back(MakeNode(absl::StrCat("n", 10 + i)));
  GenerousQuota(s, {"big", "small"});
  int64_t next_id = 100;
  for (int i = 0; i < 16; ++i) {
    s.running.push_back(
        Running(next_id++, "small", Tier::kNormal, {{absl::StrCat("n", 10 + i), {}}}, 0, i));
  }
  s.queued = {Queued(1, "big", Tier::kNormal, 16, 0, /*submit_s=*/100)};
  absl::Time now = kNow;
  bool started = false;
  for (int pass = 0; pass < 40 && !started; ++pass) {
    // A new small task arrives every pass (later first-submit than the big one).
    s.queued.push_back(Queued(next_id++, "small", Tier::kNormal, 1, 0, 200 + pass));
    Plan p = Decide(s, Config(), now);
    for (const StartDecision& d : p.starts) {
      if (d.attempt_id == 1) {
        started = true;
        // 16 finishes were needed: it cannot start before pass 16.
        EXPECT_GE(pass, 16);
      } else {
        ADD_FAILURE() << "small task " << d.attempt_id << " jumped the reservation";
      }
    }
    if (!started) {
      EXPECT_EQ(FindPending(p, 1)->reserved_nodes.size(), 16u);
      for (const Pending& w : p.pending) {
        if (w.attempt_id != 1) {
          EXPECT_EQ(w.reason, PendingReason::kBlockedByReservation);
        }
      }
    }
    // The oldest running task finishes.
    if (!s.running.empty()) s.running.erase(s.running.begin());
    now += absl::Minutes(1);
  }
  EXPECT_TRUE(started);
}

// --- more rules, one table each ---------------------------------------------------------

TEST(DecideOrderTest, AllSevenTiersAreServedHighestFirst) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};  // room for three
  GenerousQuota(s, {"u"});
  const std::vector<Tier> tiers = {Tier::kLow,         Tier::kBelowNormal, Tier::kNormal,
                                   Tier::kAboveNormal, Tier::kHigh,        Tier::kVeryHigh,
                                   Tier::kExtremeHigh};
  // Submitted lowest tier first, so FIFO alone would get it backwards.
  for (size_t i = 0; i < tiers.size(); ++i) {
    s.queued.push_back(
        Queued(static_cast<int64_t>(i + 1), "u", tiers[i], 1, 0, static_cast<int>(i)));
  }
  Plan p = Decide(s, Config(), kNow);
  // EXTREME_HIGH (7), VERY_HIGH (6), HIGH (5) start; the rest wait, each first in its tier.
  ASSERT_EQ(p.starts.size(), 3u);
  EXPECT_EQ(p.starts[0].attempt_id, 7);
  EXPECT_EQ(p.starts[1].attempt_id, 6);
  EXPECT_EQ(p.starts[2].attempt_id, 5);
  ASSERT_EQ(p.pending.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(p.pending[i].attempt_id, static_cast<int64_t>(4 - i));
    EXPECT_EQ(p.pending[i].tier, tiers[3 - i]);
    EXPECT_EQ(p.pending[i].position_in_tier, 1);
  }
  // A value between tiers (HAI's UNDER_NORMAL = 8) runs at the tier below it.
  s.queued = {Queued(1, "u", Tier::kNormal, 1)};
  s.queued[0].requested_priority = 8;
  p = Decide(s, Config(), kNow);
  ASSERT_EQ(p.starts.size(), 1u);
  EXPECT_EQ(p.starts[0].tier, Tier::kBelowNormal);
}

TEST(DecideQuotaTest, AutoWaitsAtTheHighestTierThatCouldEverFitIt) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  SetQuota(s, "u", Tier::kHigh, 1);    // too small for 2 nodes, ever
  SetQuota(s, "u", Tier::kNormal, 2);  // fits 2, but u holds 1 already
  s.running = {Running(10, "u", Tier::kNormal, {{"n1", {}}})};
  s.queued = {QueuedAuto(1, "u", 2), QueuedAuto(2, "nobody", 1)};
  Plan p = Decide(s, Config(), kNow);
  EXPECT_TRUE(p.starts.empty());
  // 1: no tier fits it now; NORMAL could once u's task ends -> OUT_OF_QUOTA at NORMAL.
  EXPECT_EQ(FindPending(p, 1)->tier, Tier::kNormal);
  EXPECT_EQ(FindPending(p, 1)->reason, PendingReason::kOutOfQuota);
  EXPECT_EQ(FindPending(p, 1)->missing_nodes, 1);
  // 2: no quota anywhere -> NEVER_FITS (at LOW).
  EXPECT_EQ(FindPending(p, 2)->tier, Tier::kLow);
  EXPECT_EQ(FindPending(p, 2)->reason, PendingReason::kNeverFits);
}

TEST(DecideDemotionTest, DemotionTimeIsConfigurableAndOnlyAboveNormalDrops) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  GenerousQuota(s, {"v"});
  const int ten_min_ago = 36000 - 600;
  s.running = {Running(10, "v", Tier::kAboveNormal, {{"n1", {}}}, 0, ten_min_ago),
               Running(11, "v", Tier::kAboveNormal, {{"n2", {}}}, 0, ten_min_ago + 1),
               Running(12, "v", Tier::kHigh, {{"n3", {}}}, 0, 0)};  // HIGH never drops
  PolicyConfig c;
  c.above_normal_demote_after = absl::Minutes(10);
  Plan p = Decide(s, c, kNow);
  // 10 ran exactly 10 min: drops; 11 ran 1 s less: stays.
  ASSERT_EQ(p.demotions.size(), 1u);
  EXPECT_EQ(p.demotions[0].attempt_id, 10);
  EXPECT_EQ(p.demotions[0].from, Tier::kAboveNormal);
  EXPECT_EQ(p.demotions[0].to, Tier::kNormal);
  // Default (30 min): nobody drops.
  EXPECT_TRUE(Decide(s, Config(), kNow).demotions.empty());
}

TEST(DecidePreemptionTest, MinimumRuntimeIsPerTierOfTheVictim) {
  // Each row: victim tier, minutes it has run, per-tier/default minimum -> suspended?
  struct Row {
    Tier victim;
    int ran_min;
    std::optional<int> tier_min;
    int default_min;
    bool suspended;
  };
  const Row rows[] = {
      {Tier::kLow, 1, std::nullopt, 0, true},   // no protection at all
      {Tier::kLow, 1, std::nullopt, 5, false},  // default protects
      {Tier::kLow, 5, std::nullopt, 5, true},   // window over (inclusive)
      {Tier::kLow, 1, 0, 5, true},              // tier entry overrides the default
      {Tier::kNormal, 30, 60, 0, false},        // NORMAL protected for an hour
      {Tier::kNormal, 61, 60, 0, true},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(absl::StrCat(static_cast<int>(r.victim), " ran ", r.ran_min, " min"));
    Snapshot s;
    s.nodes = {MakeNode("n1")};
    GenerousQuota(s, {"u", "v"});
    s.running = {Running(10, "v", r.victim, {{"n1", {}}}, 0, 36000 - r.ran_min * 60)};
    s.queued = {Queued(1, "u", Tier::kHigh, 1)};
    PolicyConfig c;
    c.default_min_runtime = absl::Minutes(r.default_min);
    if (r.tier_min) c.min_runtime[r.victim] = absl::Minutes(*r.tier_min);
    Plan p = Decide(s, c, kNow);
    EXPECT_EQ(p.suspends.size(), r.suspended ? 1u : 0u);
    EXPECT_EQ(FindPending(p, 1)->reason,
              r.suspended ? PendingReason::kWaitingForPreemption : PendingReason::kWaitingForNodes);
  }
}

TEST(DecidePreemptionTest, HeldNodesAreCarriedToThePreemptorAcrossPasses) {
  Snapshot s = FourNodes();
  s.running = {Running(10, "v", Tier::kHigh, {{"n1", {}}, {"n2", {}}}),  // equal tier
               Running(12, "v", Tier::kHigh, {{"n3", {}}}),
               Running(11, "v", Tier::kLow, {{"n4", {}}})};
  // 1 (older HIGH, 3 nodes) can clear only n4: no preemption; as head it holds n1-n3 to
  // drain. 2 (HIGH, 1 node) suspends LOW 11 on n4.
  s.queued = {Queued(1, "u", Tier::kHigh, 3, 0, 0), Queued(2, "w", Tier::kHigh, 1, 0, 5)};
  Plan p = Decide(s, Config(), kNow);
  ASSERT_EQ(p.suspends.size(), 1u);
  EXPECT_EQ(p.suspends[0].victim_attempt_id, 11);
  EXPECT_EQ(FindPending(p, 2)->reserved_nodes, std::vector<std::string>{"n4"});
  EXPECT_EQ(FindPending(p, 1)->reserved_nodes, (std::vector<std::string>{"n1", "n2", "n3"}));

  // Next pass: 11 has stopped, n4 is free. Without the carried hold, 1 (ahead of 2) would
  // take free n4 into its reservation and 11 would have been suspended for nothing.
  std::erase_if(s.running, [](const Task& t) { return t.attempt_id == 11; });
  s.queued[1].reserved_nodes = FindPending(p, 2)->reserved_nodes;
  Plan p2 = Decide(s, Config(), kNow);
  ASSERT_NE(FindStart(p2, 2), nullptr);
  EXPECT_EQ(Nodes(*FindStart(p2, 2)), std::vector<std::string>{"n4"});
  EXPECT_TRUE(p2.suspends.empty());
  EXPECT_EQ(FindPending(p2, 1)->reason, PendingReason::kWaitingForNodes);
  // Without the hold the older head claims n4.
  s.queued[1].reserved_nodes.clear();
  Plan p3 = Decide(s, Config(), kNow);
  EXPECT_EQ(FindStart(p3, 2), nullptr);
}

TEST(DecidePlacementTest, GangSpansOneRoomBeforeTwo) {
  Snapshot s;
  // Room r1: s1 (2 free), s2 (2 free). Room r2: s3 (3 free). No switch holds 4.
  s.nodes = {MakeNode("a1", "a100", 8, "s1", "r1"), MakeNode("a2", "a100", 8, "s1", "r1"),
             MakeNode("b1", "a100", 8, "s2", "r1"), MakeNode("b2", "a100", 8, "s2", "r1"),
             MakeNode("c1", "a100", 8, "s3", "r2"), MakeNode("c2", "a100", 8, "s3", "r2"),
             MakeNode("c3", "a100", 8, "s3", "r2")};
  GenerousQuota(s, {"u"});
  s.queued = {Queued(1, "u", Tier::kNormal, 4)};
  Plan p = Decide(s, Config(), kNow);
  ASSERT_EQ(p.starts.size(), 1u);
  // r1 holds 4 in two switches; r2 would need a second room.
  EXPECT_EQ(Nodes(p.starts[0]), (std::vector<std::string>{"a1", "a2", "b1", "b2"}));
  // Needing 5: both rooms; the fuller room (r1, 4) is taken whole, then 1 from r2.
  s.queued = {Queued(1, "u", Tier::kNormal, 5)};
  p = Decide(s, Config(), kNow);
  ASSERT_EQ(p.starts.size(), 1u);
  EXPECT_EQ(Nodes(p.starts[0]), (std::vector<std::string>{"a1", "a2", "b1", "b2", "c1"}));
}

TEST(DecideReservationTest, WaitingReasonsCarryMissingNodesAndPosition) {
  Snapshot s = FourNodes();
  s.running = {Running(10, "v", Tier::kHigh, {{"n1", {}}}),
               Running(11, "v", Tier::kHigh, {{"n2", {}}}),
               Running(12, "v", Tier::kHigh, {{"n3", {}}})};
  s.queued = {Queued(1, "u", Tier::kNormal, 3, 0, 0),   // head: 1 free, 2 missing
              Queued(2, "w", Tier::kNormal, 2, 0, 1),   // behind it: all held -> blocked
              Queued(3, "w", Tier::kNormal, 9, 0, 2)};  // bigger than the group
  Plan p = Decide(s, Config(), kNow);
  EXPECT_EQ(FindPending(p, 1)->reason, PendingReason::kWaitingForNodes);
  EXPECT_EQ(FindPending(p, 1)->missing_nodes, 2);
  EXPECT_EQ(FindPending(p, 1)->position_in_tier, 1);
  EXPECT_EQ(FindPending(p, 2)->reason, PendingReason::kBlockedByReservation);
  EXPECT_EQ(FindPending(p, 2)->missing_nodes, 2);  // free n4 is held: both must free up
  EXPECT_EQ(FindPending(p, 2)->position_in_tier, 2);
  EXPECT_EQ(FindPending(p, 3)->reason, PendingReason::kNeverFits);
  EXPECT_EQ(FindPending(p, 3)->missing_nodes, 5);
  EXPECT_EQ(FindPending(p, 3)->position_in_tier, 3);
}

TEST(DecideDeterminismTest, InputOrderDoesNotMatter) {
  Snapshot s = FourNodes();
  s.running = {Running(10, "v", Tier::kLow, {{"n1", {0, 1}}}, 2, 5),
               Running(11, "v", Tier::kLow, {{"n2", {}}}, 0, 5)};
  s.queued = {Queued(1, "u", Tier::kHigh, 2, 0, 0), Queued(2, "w", Tier::kHigh, 1, 4, 0),
              Queued(3, "u", Tier::kNormal, 1, 2, 0), Queued(4, "w", Tier::kLow, 2, 0, 0)};
  Plan a = Decide(s, Config(), kNow);
  std::reverse(s.nodes.begin(), s.nodes.end());
  std::reverse(s.running.begin(), s.running.end());
  std::reverse(s.queued.begin(), s.queued.end());
  Plan b = Decide(s, Config(), kNow);
  ASSERT_EQ(a.starts.size(), b.starts.size());
  for (size_t i = 0; i < a.starts.size(); ++i) {
    EXPECT_EQ(a.starts[i].attempt_id, b.starts[i].attempt_id);
    EXPECT_EQ(Nodes(a.starts[i]), Nodes(b.starts[i]));
  }
  ASSERT_EQ(a.suspends.size(), b.suspends.size());
  ASSERT_EQ(a.pending.size(), b.pending.size());
  for (size_t i = 0; i < a.pending.size(); ++i) {
    EXPECT_EQ(a.pending[i].attempt_id, b.pending[i].attempt_id);
    EXPECT_EQ(DetailOf(s, a, a.pending[i].attempt_id), DetailOf(s, b, b.pending[i].attempt_id));
  }
}

}  // namespace
}  // namespace hai::policy
