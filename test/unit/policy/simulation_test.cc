// Multi-pass simulations over Decide (simulator.h): properties that only show over time.
// Every pass's plan is also checked against the shared invariants.
#include <optional>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scheduler/policy/pending_detail.h"
#include "scheduler/policy/tier.h"
#include "test/unit/policy/builders.h"
#include "test/unit/policy/simulator.h"

namespace hai::policy {
namespace {

using namespace ::hai::policy::testing;  // NOLINT: test builders

const absl::Duration kStep = absl::Minutes(1);

std::vector<Node> Cluster(int n, int per_switch = 8) {
  std::vector<Node> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(
        MakeNode(absl::StrCat("n", 100 + i), "a100", 8, absl::StrCat("s", i / per_switch)));
  }
  return out;
}

std::map<QuotaKey, int64_t> Quota(const std::vector<std::string>& users, int64_t nodes) {
  Snapshot s;
  GenerousQuota(s, users, nodes);
  return s.quota;
}

Task Shape(std::string user, Tier tier, int nodes, int gpus_per_node = 0) {
  return Queued(0, std::move(user), tier, nodes, gpus_per_node);
}

// Issue 3: a 16-node NORMAL task must start eventually while 1-node NORMAL tasks keep
// arriving. The cluster is full of small tasks (5-20 min each) when it arrives, and a new
// small task arrives about every other minute, forever. Once the big task has been seen by
// one pass, it is the head of NORMAL and holds all 16 nodes: no small task may start until
// it has, so it starts at the latest when the longest small task already running ends.
class StarvationTest : public ::testing::TestWithParam<int> {};  // small tasks' GPUs (0=whole)

TEST_P(StarvationTest, SixteenNodeNormalTaskStartsWhileSmallTasksKeepArriving) {
  const int small_gpus = GetParam();
  Simulator sim(Cluster(16), Quota({"big", "small"}, 1000), PolicyConfig{}, kT0);
  std::mt19937 rng(7);
  auto minutes = [&](int lo, int hi) {
    return absl::Minutes(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  const int per_node = small_gpus == 0 ? 1 : 8 / small_gpus;
  for (int i = 0; i < 16 * per_node; ++i) {
    sim.Submit(Shape("small", Tier::kNormal, 1, small_gpus), minutes(5, 20));
  }
  sim.Step(kStep);  // every node busy with small tasks
  const int64_t big = sim.Submit(Shape("big", Tier::kNormal, 16), absl::Minutes(30));
  const absl::Time submitted = sim.now();
  bool seen = false;
  for (int step = 0; step < 120 && !sim.chains().at(big).finished; ++step) {
    if (step % 2 == 0) sim.Submit(Shape("small", Tier::kNormal, 1, small_gpus), minutes(5, 20));
    Plan p = sim.Step(kStep);
    if (::testing::Test::HasFatalFailure()) return;
    if (!sim.chains().at(big).starts.empty()) continue;
    // Until it starts, no small task jumps it (after the pass that first saw it).
    if (seen) {
      EXPECT_TRUE(p.starts.empty()) << "a small task started at step " << step;
    }
    seen = true;
    for (const Pending& w : p.pending) {
      if (w.attempt_id == big) {
        EXPECT_EQ(w.position_in_tier, 1);
        EXPECT_EQ(w.reserved_nodes.size(), 16u);
      } else {
        EXPECT_EQ(w.reason, PendingReason::kBlockedByReservation) << PendingDetail(w, "", "");
      }
    }
  }
  const ChainLog& log = sim.chains().at(big);
  ASSERT_FALSE(log.starts.empty()) << "the 16-node task never started";
  EXPECT_LE(log.starts.front() - submitted, absl::Minutes(21));
  EXPECT_TRUE(log.finished.has_value());
}

INSTANTIATE_TEST_SUITE_P(WholeAndPackedSmallTasks, StarvationTest, ::testing::Values(0, 2));

// Issue 21: the same 16-node task on 20 nodes, small tasks now giving time limits, a third of
// them too short (they overrun). Small tasks keep starting while the big one waits (on the 4
// nodes it does not need, and on its held nodes when they end before it could start), and
// it still starts: at the latest one step after the start its first reservation promised,
// computed from the limits, because the tasks that overran it are suspended then.
TEST(LimitStarvationTest, ReservedGangStartsWhenItsLimitsSayWhileLimitedTasksBackfill) {
  Simulator sim(Cluster(20), Quota({"big", "small"}, 1000), PolicyConfig{}, kT0);
  std::mt19937 rng(11);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto small = [&] {
    const absl::Duration work = absl::Minutes(uni(5, 40));
    Task t = Shape("small", Tier::kNormal, 1, uni(0, 1) == 0 ? 0 : 4);
    t.time_limit = uni(0, 2) == 0 ? work / 2 : absl::Ceil(work, absl::Minutes(10));
    sim.Submit(std::move(t), work);
  };
  for (int i = 0; i < 30; ++i) small();
  sim.Step(kStep);
  Task big_shape = Shape("big", Tier::kNormal, 16);
  big_shape.time_limit = absl::Hours(1);
  const int64_t big = sim.Submit(big_shape, absl::Minutes(30));
  std::optional<absl::Time> promised;
  int small_starts_while_waiting = 0;
  for (int step = 0; step < 180 && !sim.chains().at(big).finished; ++step) {
    if (step % 2 == 0) small();
    Plan p = sim.Step(kStep);
    if (::testing::Test::HasFatalFailure()) return;
    if (!sim.chains().at(big).starts.empty()) continue;
    small_starts_while_waiting += static_cast<int>(p.starts.size());
    for (const Pending& w : p.pending) {
      if (sim.ChainOf(w.attempt_id) != big || w.reserved_start == absl::InfiniteFuture()) continue;
      if (!promised) promised = w.reserved_start;
      // Backfill never moves the promise later.
      EXPECT_LE(w.reserved_start, *promised);
    }
  }
  const ChainLog& log = sim.chains().at(big);
  ASSERT_FALSE(log.starts.empty()) << "the 16-node task never started";
  ASSERT_TRUE(promised.has_value());
  EXPECT_LE(log.starts.front(), *promised + kStep);
  EXPECT_GT(small_starts_while_waiting, 0);
  EXPECT_TRUE(log.finished.has_value());
}

// A random mixed workload over all tiers with preemption, minimum runtimes and ABOVE_NORMAL
// demotion; then arrivals stop and the cluster drains. Over the whole run:
//  - every chain finishes (nothing starves once the pressure ends, LOW included);
//  - a preemptor starts in the pass right after its victims stop (victims are never
//    suspended for a task that then cannot start): its held nodes are carried into the
//    next pass (Task::reserved_nodes), so no task ahead of it in the queue takes them;
//  - no two chains preempt each other in a loop: B preempting A back after A preempted B
//    needs A to have run its ABOVE_NORMAL time and been demoted (HAI time-sharing), so the
//    two preemptions are at least above_normal_demote_after apart.
TEST(ThrashTest, RandomWorkloadNeverThrashesAndDrains) {
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    PolicyConfig config;
    config.default_min_runtime = absl::Minutes(5);
    config.min_runtime[Tier::kLow] = absl::ZeroDuration();
    Simulator sim(Cluster(12, 4), Quota({"u0", "u1", "u2", "u3"}, 8), config, kT0);
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    std::map<int64_t, Tier> tier_of;
    std::map<absl::Time, Plan> plans;
    for (int step = 0; step < 900; ++step) {
      if (step < 240 && uni(0, 99) < 40) {
        const Tier tier = kTiersDescending[uni(0, 6)];
        const int shape = uni(0, 9);
        const int nodes = shape < 7 ? 1 : uni(2, 4);
        const int gpus = shape < 4 ? 1 << uni(0, 2) : 0;
        const int64_t id = sim.Submit(Shape(absl::StrCat("u", uni(0, 3)), tier, nodes, gpus),
                                      absl::Minutes(uni(5, 60)));
        tier_of[id] = tier;
      }
      Plan plan = sim.Step(kStep);
      plans[sim.now()] = std::move(plan);
      if (::testing::Test::HasFatalFailure()) return;
    }
    for (const auto& [chain, log] : sim.chains()) {
      EXPECT_TRUE(log.finished.has_value()) << "chain " << chain << " never finished";
    }
    // Follow-through: the preemptor's first start after the event is one step later.
    int late = 0;
    for (const PreemptionEvent& e : sim.preemptions()) {
      const ChainLog& log = sim.chains().at(e.preemptor_chain);
      auto it = std::lower_bound(log.starts.begin(), log.starts.end(), e.at);
      ASSERT_NE(it, log.starts.end()) << "preemptor " << e.preemptor_chain << " never started";
      if (*it != e.at + kStep) {
        ++late;
        std::string why;
        for (const Pending& w : plans[e.at + kStep].pending) {
          if (sim.ChainOf(w.attempt_id) == e.preemptor_chain) {
            why = std::string(PendingReasonName(w.reason)) + " " + PendingDetail(w, "", "");
          }
        }
        std::string at;
        for (const Pending& w : plans[e.at].pending) {
          if (sim.ChainOf(w.attempt_id) == e.preemptor_chain) {
            at = std::string(PendingReasonName(w.reason)) + " " + PendingDetail(w, "", "");
            for (auto& n : w.reserved_nodes) at += " " + n;
          }
        }
        ADD_FAILURE() << "preemptor " << e.preemptor_chain << " ("
                      << std::string(TierName(tier_of[e.preemptor_chain])) << ") victim "
                      << e.victim_chain << " at " << absl::FormatTime(e.at) << " then: " << at
                      << "\n next: " << why;
      }
    }
    EXPECT_EQ(late, 0) << "preemptors that did not start right after their victims stopped";
    // No loops.
    for (const PreemptionEvent& a : sim.preemptions()) {
      for (const PreemptionEvent& b : sim.preemptions()) {
        if (b.at <= a.at || b.preemptor_chain != a.victim_chain ||
            b.victim_chain != a.preemptor_chain) {
          continue;
        }
        EXPECT_EQ(tier_of.at(a.preemptor_chain), Tier::kAboveNormal);
        EXPECT_GE(b.at - a.at, config.above_normal_demote_after)
            << a.preemptor_chain << " and " << a.victim_chain << " preempt each other";
      }
    }
  }
}

}  // namespace
}  // namespace hai::policy
