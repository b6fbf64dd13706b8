// Head-of-tier reservations and EASY backfill with time limits (scheduler/policy/reservation.h):
// a reservation holds only what its head needs, reservations of different tiers do not
// stack so that nothing can backfill, a task with a limit may start on reserved nodes when it
// ends before the head can start, and a task past its limit is suspended (not killed) when
// the reservation needs its node.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scheduler/policy/decide.h"
#include "test/unit/policy/builders.h"
#include "test/unit/policy/invariants.h"

namespace hai::policy {
namespace {

using namespace ::hai::policy::testing;  // NOLINT: test builders

const absl::Time kNow = kT0 + absl::Hours(10);

std::string Name(int i) { return absl::StrCat("n", 10 + i); }

// 20 nodes of 8 GPUs: the group of issue 21.
Snapshot TwentyNodes() {
  Snapshot s;
  for (int i = 0; i < 20; ++i) s.nodes.push_back(MakeNode(Name(i)));
  GenerousQuota(s, {"h", "n", "s", "v"});
  return s;
}

std::vector<std::string> Names(int from, int to) {  // [from, to)
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(Name(i));
  std::sort(out.begin(), out.end());
  return out;
}

Task WithLimit(Task t, absl::Duration limit) {
  t.time_limit = limit;
  return t;
}

Plan DecideChecked(const Snapshot& s, const PolicyConfig& c = {}) {
  Plan p = Decide(s, c, kNow);
  CheckInvariants(s, c, p, kNow);
  return p;
}

// Issue 21: a HIGH 12-node gang runs on n10..n21, to end in 3 h by its limit. A HIGH 12-node
// gang and a NORMAL 16-node gang wait behind it, then eight 1-node NORMAL tasks without
// limits. Before: the HIGH head held the 8 free nodes and 4 of the running gang's, the NORMAL
// head the other 8, and all 20 nodes were held: nothing could start. Now the HIGH head holds
// the running gang's 12 nodes (they all free in 3 h, when it could start anyway), and the
// NORMAL head, which cannot be satisfied beside it (8 nodes left of 16 needed), holds none:
// the eight small tasks start on the free nodes. Without the running gang's limit its end is
// unknown: the HIGH head holds free nodes as before, and the NORMAL head still holds none.
TEST(ReservationTest, TierHeadsDoNotStackOnTwentyNodes) {
  Snapshot s = TwentyNodes();
  std::vector<std::pair<std::string, std::vector<int>>> gang;
  for (int i = 0; i < 12; ++i) gang.push_back({Name(i), {}});
  s.running = {WithLimit(Running(100, "v", Tier::kHigh, gang, 0, absl::ToInt64Seconds(kNow - kT0)),
                         absl::Hours(3))};
  s.queued = {Queued(1, "h", Tier::kHigh, 12, 0, 0), Queued(2, "n", Tier::kNormal, 16, 0, 1)};
  for (int i = 0; i < 8; ++i) s.queued.push_back(Queued(3 + i, "s", Tier::kNormal, 1, 0, 2 + i));
  Plan p = DecideChecked(s);
  const Pending* high = FindPending(p, 1);
  ASSERT_NE(high, nullptr);
  EXPECT_EQ(high->reserved_nodes, Names(0, 12));
  EXPECT_EQ(high->reserved_start, kNow + absl::Hours(3));
  const Pending* normal = FindPending(p, 2);
  ASSERT_NE(normal, nullptr);
  EXPECT_TRUE(normal->reserved_nodes.empty());
  EXPECT_EQ(normal->facts.head, PendingFacts::Head::kBehindReservations);
  EXPECT_EQ(DetailOf(s, p, 2),
            "needs 16 nodes in group a100, 8 free; 8 more must free up (free nodes are held "
            "for an earlier task); first in line at NORMAL, but only 8 ready nodes are not "
            "held for tasks ahead of it");
  ASSERT_EQ(p.starts.size(), 8u);
  std::vector<std::string> used;
  for (const StartDecision& d : p.starts) used.push_back(d.placement.at(0).node);
  std::sort(used.begin(), used.end());
  EXPECT_EQ(used, Names(12, 20));

  s.running[0].time_limit = absl::InfiniteDuration();
  p = DecideChecked(s);
  EXPECT_EQ(FindPending(p, 1)->reserved_nodes.size(), 12u);
  EXPECT_EQ(FindPending(p, 1)->reserved_start, absl::InfiniteFuture());
  EXPECT_TRUE(FindPending(p, 2)->reserved_nodes.empty());
}

// Issue 21 with time limits: 4 nodes are free and 16 run 1-node tasks whose limits end 1 h,
// 2 h, ... 16 h from now. The HIGH 12-node head holds the 4 free nodes and the 8 that free
// first (it can start in 8 h); the NORMAL 16-node head cannot be satisfied beside it and
// holds nothing. A task with a 2 h limit starts on a held free node (it ends before the head
// can start); one with a 9 h limit and one without a limit wait. (Preemption off: the HIGH
// head would otherwise suspend NORMAL tasks instead of waiting.)
TEST(ReservationTest, TasksWithLimitsBackfillOnHeldNodesUntilTheHeadCanStart) {
  Snapshot s = TwentyNodes();
  for (int i = 4; i < 20; ++i) {
    s.running.push_back(WithLimit(
        Running(100 + i, "v", Tier::kNormal, {{Name(i), {}}}, 0, absl::ToInt64Seconds(kNow - kT0)),
        absl::Hours(i - 3)));
  }
  s.queued = {Queued(1, "h", Tier::kHigh, 12, 0, 0), Queued(2, "n", Tier::kNormal, 16, 0, 1),
              WithLimit(Queued(3, "s", Tier::kNormal, 1, 0, 2), absl::Hours(2)),
              WithLimit(Queued(4, "s", Tier::kNormal, 1, 0, 3), absl::Hours(9)),
              Queued(5, "s", Tier::kNormal, 1, 0, 4)};
  PolicyConfig c;
  c.preemption = false;
  const Plan p = DecideChecked(s, c);
  const Pending* high = FindPending(p, 1);
  ASSERT_NE(high, nullptr);
  EXPECT_EQ(high->reserved_nodes, Names(0, 12));
  EXPECT_EQ(high->reserved_start, kNow + absl::Hours(8));
  EXPECT_TRUE(FindPending(p, 2)->reserved_nodes.empty());
  ASSERT_EQ(p.starts.size(), 1u);
  EXPECT_EQ(p.starts[0].attempt_id, 3);
  EXPECT_EQ(FindPending(p, 4)->reason, PendingReason::kBlockedByReservation);
  EXPECT_EQ(FindPending(p, 5)->reason, PendingReason::kBlockedByReservation);
  EXPECT_NE(DetailOf(s, p, 1).find("held for it, free by "), std::string::npos);
}

// A busy node that frees by the head's start takes the place of a free node in the
// reservation: the free node stays open to every task, limit or not.
TEST(ReservationTest, BusyNodesFreeByTheStartAreHeldInsteadOfFreeOnes) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3"), MakeNode("n4")};
  GenerousQuota(s, {"u", "v"});
  // A 3-node gang that ends in 1 h; n4 is free. The head needs 3 nodes.
  s.running = {WithLimit(Running(10, "v", Tier::kNormal, {{"n1", {}}, {"n2", {}}, {"n3", {}}}, 0,
                                 absl::ToInt64Seconds(kNow - kT0)),
                         absl::Hours(1))};
  s.queued = {Queued(1, "u", Tier::kHigh, 3, 0, 0), Queued(2, "u", Tier::kNormal, 1, 0, 1)};
  PolicyConfig c;
  c.preemption = false;
  const Plan p = DecideChecked(s, c);
  EXPECT_EQ(FindPending(p, 1)->reserved_nodes, (std::vector<std::string>{"n1", "n2", "n3"}));
  EXPECT_EQ(FindPending(p, 1)->reserved_start, kNow + absl::Hours(1));
  ASSERT_EQ(p.starts.size(), 1u);  // the task without a limit takes n4
  EXPECT_EQ(p.starts[0].placement.at(0).node, "n4");
}

// A task past its limit on a node the head needs is suspended (checkpoint and requeue, not
// a kill) once nothing else stands between the head and its nodes; the head then waits for
// it like a preemptor, holding its nodes. A higher tier's overrun is not suspended for it,
// and nothing is suspended while another held node still has time to run.
TEST(ReservationTest, TaskPastItsLimitIsSuspendedWhenTheReservationNeedsItsNode) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  GenerousQuota(s, {"u", "v"});
  const int started = absl::ToInt64Seconds(kNow - kT0) - 7200;  // 2 h ago
  s.running = {
      WithLimit(Running(10, "v", Tier::kNormal, {{"n1", {}}}, 0, started), absl::Hours(1))};
  s.queued = {Queued(1, "u", Tier::kNormal, 3, 0, 0)};
  Plan p = DecideChecked(s);
  ASSERT_EQ(p.suspends.size(), 1u);
  EXPECT_EQ(p.suspends[0].victim_attempt_id, 10);
  EXPECT_EQ(p.suspends[0].preemptor_attempt_id, 1);
  EXPECT_EQ(p.suspends[0].kind, SuspendKind::kOverLimit);
  EXPECT_EQ(FindPending(p, 1)->reason, PendingReason::kWaitingForPreemption);
  EXPECT_EQ(FindPending(p, 1)->reserved_nodes, (std::vector<std::string>{"n1", "n2", "n3"}));

  // Another held node runs a task with 30 min left: not yet.
  Snapshot later = s;
  later.running.push_back(
      WithLimit(Running(11, "v", Tier::kNormal, {{"n2", {}}}, 0, absl::ToInt64Seconds(kNow - kT0)),
                absl::Minutes(30)));
  p = DecideChecked(later);
  EXPECT_TRUE(p.suspends.empty());
  EXPECT_EQ(FindPending(p, 1)->reserved_start, kNow + absl::Minutes(30));

  // A HIGH task past its limit is not suspended for a NORMAL head.
  Snapshot high = s;
  high.running[0].tier = Tier::kHigh;
  high.running[0].requested_priority = static_cast<int>(Tier::kHigh);
  p = DecideChecked(high);
  EXPECT_TRUE(p.suspends.empty());
  EXPECT_EQ(FindPending(p, 1)->reserved_start, absl::InfiniteFuture());

  // Without a limit nothing is ever over it.
  Snapshot none = s;
  none.running[0].time_limit = absl::InfiniteDuration();
  p = DecideChecked(none);
  EXPECT_TRUE(p.suspends.empty());
}

// A packed head waits for GPUs on one node: it holds the node whose GPUs free first by the
// limits, and a packed task past its limit there is suspended when that makes room.
TEST(ReservationTest, PackedHeadHoldsTheNodeThatFreesFirst) {
  Snapshot s;
  s.nodes = {MakeNode("n1"), MakeNode("n2")};
  GenerousQuota(s, {"u", "v"});
  const int now_s = absl::ToInt64Seconds(kNow - kT0);
  s.running = {Running(10, "v", Tier::kNormal, {{"n1", {0, 1, 2, 3, 4, 5}}}, 6, now_s),  // no limit
               WithLimit(Running(11, "v", Tier::kNormal, {{"n2", {0, 1, 2, 3, 4, 5}}}, 6, now_s),
                         absl::Hours(3))};
  s.queued = {Queued(1, "u", Tier::kNormal, 1, 4, 0)};
  Plan p = DecideChecked(s);
  EXPECT_EQ(FindPending(p, 1)->reserved_nodes, (std::vector<std::string>{"n2"}));
  EXPECT_EQ(FindPending(p, 1)->reserved_start, kNow + absl::Hours(3));
  // Three hours later the task on n2 is at its limit: it is suspended for the head.
  p = Decide(s, PolicyConfig{}, kNow + absl::Hours(3));
  CheckInvariants(s, PolicyConfig{}, p, kNow + absl::Hours(3));
  ASSERT_EQ(p.suspends.size(), 1u);
  EXPECT_EQ(p.suspends[0].victim_attempt_id, 11);
  EXPECT_EQ(p.suspends[0].kind, SuspendKind::kOverLimit);
}

}  // namespace
}  // namespace hai::policy
