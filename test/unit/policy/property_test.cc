// Property tests: thousands of random snapshots from a seeded std::mt19937 (deterministic),
// each Decide checked against the invariants the daemon relies on.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scheduler/policy/decide.h"
#include "scheduler/policy/rules.h"
#include "scheduler/policy/tier.h"
#include "test/unit/policy/builders.h"
#include "test/unit/policy/invariants.h"

namespace hai::policy {
namespace {

using testing::kT0;
const absl::Time kNow = kT0 + absl::Hours(10);

struct Case {
  Snapshot snapshot;
  PolicyConfig config;
};

Case Generate(uint32_t seed) {
  std::mt19937 rng(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&](int pct) { return uni(1, 100) <= pct; };
  Case c;
  Snapshot& s = c.snapshot;
  const int groups = uni(1, 3);
  const int n_nodes = uni(1, 24);
  for (int i = 0; i < n_nodes; ++i) {
    Node n = testing::MakeNode(absl::StrCat("n", i), absl::StrCat("g", uni(0, groups - 1)),
                               chance(80) ? 8 : 4, absl::StrCat("s", uni(0, 3)),
                               absl::StrCat("r", uni(0, 1)));
    if (chance(15)) n.state = static_cast<NodeState>(uni(1, 4));
    n.jupyter = chance(5);
    s.nodes.push_back(n);
  }
  const int users = uni(1, 5);
  const std::vector<Tier> tiers(kTiersDescending.begin(), kTiersDescending.end());
  for (int u = 0; u < users; ++u) {
    for (int g = 0; g < groups; ++g) {
      for (Tier t : tiers) {
        if (chance(60)) {
          s.quota[QuotaKey{absl::StrCat("u", u), absl::StrCat("g", g), t}] = uni(0, 8);
        }
      }
    }
  }
  // Running tasks on a consistent occupancy.
  std::vector<uint64_t> used(n_nodes, 0);
  std::vector<int> occ(n_nodes, 0);
  int64_t id = 1;
  const int n_running = uni(0, 30);
  for (int i = 0; i < n_running; ++i) {
    Task t;
    t.attempt_id = id++;
    t.chain_id = t.attempt_id;
    t.user = absl::StrCat("u", uni(0, users - 1));
    t.tier = tiers[uni(0, 6)];
    t.requested_priority = static_cast<int>(t.tier);
    t.running_since = kNow - absl::Seconds(uni(0, 5 * 3600));
    t.first_submit = t.running_since - absl::Seconds(uni(0, 3600));
    t.suspend_requested = chance(10);
    const int shape = uni(0, 2);
    const int at = uni(0, n_nodes - 1);
    const Node& n = s.nodes[at];
    if (n.jupyter) continue;
    t.group = n.group;
    if (shape == 0) {  // packed
      const int free = n.gpus - std::popcount(used[at]);
      if (free < 1) continue;
      const int k = uni(1, std::min(free, n.gpus - 1));
      if (k < 1) continue;
      t.nodes = 1;
      t.gpus_per_node = k;
      RankPlacement p{n.name, {}};
      for (int gpu = 0; gpu < n.gpus && static_cast<int>(p.gpus.size()) < k; ++gpu) {
        if (!(used[at] >> gpu & 1)) {
          p.gpus.push_back(gpu);
          used[at] |= uint64_t{1} << gpu;
        }
      }
      ++occ[at];
      t.placement.push_back(p);
    } else {  // whole node(s) in the same group
      const int want = shape == 1 ? 1 : uni(2, 3);
      std::vector<int> picked;
      for (int j = 0; j < n_nodes && static_cast<int>(picked.size()) < want; ++j) {
        const int x = (at + j) % n_nodes;
        if (occ[x] == 0 && !s.nodes[x].jupyter && s.nodes[x].group == n.group) picked.push_back(x);
      }
      if (static_cast<int>(picked.size()) < want) continue;
      t.nodes = want;
      t.gpus_per_node = chance(50) ? 0 : s.nodes[picked[0]].gpus;
      for (int x : picked) {
        occ[x] = 1;
        used[x] = ~uint64_t{0};
        RankPlacement p{s.nodes[x].name, {}};
        for (int gpu = 0; gpu < s.nodes[x].gpus; ++gpu) p.gpus.push_back(gpu);
        t.placement.push_back(p);
      }
    }
    s.running.push_back(t);
  }
  const int n_queued = uni(0, 40);
  for (int i = 0; i < n_queued; ++i) {
    Task t;
    t.attempt_id = id++;
    t.chain_id = t.attempt_id;
    t.user = absl::StrCat("u", uni(0, users - 1));
    t.group = chance(5) ? "gx" : absl::StrCat("g", uni(0, groups - 1));
    t.nodes = chance(60) ? 1 : uni(2, 5);
    const int gp[] = {0, 1, 2, 4, 8};
    t.gpus_per_node = gp[uni(0, 4)];
    t.requested_priority = chance(10) ? kAutoPriority : static_cast<int>(tiers[uni(0, 6)]);
    t.held = chance(3);
    if (chance(15)) {  // a hold carried from a previous plan; may name any node
      for (int k = uni(1, 3); k > 0; --k) t.reserved_nodes.push_back(absl::StrCat("n", uni(0, 25)));
    }
    t.first_submit = kNow - absl::Seconds(uni(0, 20)) * 600;  // many ties
    s.queued.push_back(t);
  }
  c.config.preemption = chance(80);
  if (chance(50)) c.config.default_min_runtime = absl::Minutes(uni(0, 120));
  if (chance(50)) c.config.min_runtime[tiers[uni(0, 6)]] = absl::Minutes(uni(0, 240));
  if (chance(30)) c.config.above_normal_demote_after = absl::Minutes(uni(1, 600));
  c.config.suspend_over_quota = chance(30);  // random quotas leave some owners over them
  // Time limits on half the tasks, from a stream of their own so the rest of the snapshot
  // is what it was before limits existed. Running tasks' limits end from 2 h ago (overrun)
  // to 5 h ahead.
  std::mt19937 lrng(seed ^ 0x5bd1e995u);
  auto lim = [&](int lo, int hi) {
    return absl::Minutes(std::uniform_int_distribution<int>(lo, hi)(lrng));
  };
  for (Task& t : s.running) {
    if (lrng() % 2 == 0) continue;
    const absl::Duration ran = kNow - t.running_since;
    t.time_limit = std::max(absl::Minutes(1), ran + lim(-120, 300));
  }
  for (Task& t : s.queued) {
    if (lrng() % 2 == 0) t.time_limit = lim(1, 600);
  }
  return c;
}

// `plan` applied to `s` at `now` the way the daemon applies it: starts become running tasks
// since now, victims suspend, preemption holds are carried, demotions change tiers.
Snapshot Applied(const Snapshot& s, const Plan& plan, absl::Time now) {
  Snapshot out = s;
  std::map<int64_t, const StartDecision*> started;
  for (const StartDecision& d : plan.starts) started[d.attempt_id] = &d;
  out.queued.clear();
  for (const Task& t : s.queued) {
    auto it = started.find(t.attempt_id);
    if (it == started.end()) {
      Task q = t;
      q.reserved_nodes.clear();
      const Pending* w = testing::FindPending(plan, t.attempt_id);
      if (w != nullptr && CarriesHold(*w)) q.reserved_nodes = w->reserved_nodes;
      out.queued.push_back(std::move(q));
      continue;
    }
    Task r = t;
    r.tier = it->second->tier;
    r.placement = it->second->placement;
    r.running_since = now;
    r.reserved_nodes.clear();
    out.running.push_back(std::move(r));
  }
  std::set<int64_t> victims;
  for (const SuspendDecision& x : plan.suspends) victims.insert(x.victim_attempt_id);
  for (Task& r : out.running) {
    if (victims.contains(r.attempt_id)) r.suspend_requested = true;
    for (const Demotion& d : plan.demotions) {
      if (d.attempt_id == r.attempt_id) r.tier = d.to;
    }
  }
  return out;
}

// Issue 21: what a pass starts (backfill on reserved nodes included) never moves the start
// of a group's first reservation later, as computed from the limits the tasks were given:
// deciding again right after applying the plan gives its head the same start or an earlier
// one (or starts it), and never takes its reservation away.
TEST(PolicyPropertyTest, BackfillNeverDelaysTheFirstReservationOfAGroup) {
  int checked = 0;
  int backfilled = 0;  // plans that started a task on nodes held for a task ahead of it
  for (uint32_t seed = 1; seed <= 10000; ++seed) {
    Case c = Generate(seed);
    // Holds only as plans make them (a random carried hold changes the next pass by itself),
    // and fixed tiers (an AUTO task's tier follows its owner's usage, so who heads a tier
    // may change from one pass to the next whatever starts).
    for (Task& t : c.snapshot.queued) {
      t.reserved_nodes.clear();
      if (t.requested_priority == kAutoPriority)
        t.requested_priority = static_cast<int>(Tier::kNormal);
    }
    const Plan first = Decide(c.snapshot, c.config, kNow);
    std::set<std::string> groups_seen;
    std::vector<const Pending*> heads;
    for (const Pending& w : first.pending) {
      if (w.reserved_nodes.empty()) continue;
      const Task& t = c.snapshot.queued[w.queued_index];
      if (!groups_seen.insert(t.group).second) continue;  // the group's first holder only
      if (w.reason == PendingReason::kWaitingForPreemption) continue;
      if (w.reserved_start != absl::InfiniteFuture()) heads.push_back(&w);
    }
    if (heads.empty()) continue;
    std::set<std::string> held;
    for (const Pending* h : heads) held.insert(h->reserved_nodes.begin(), h->reserved_nodes.end());
    for (const StartDecision& d : first.starts) {
      for (const RankPlacement& r : d.placement) backfilled += held.contains(r.node) ? 1 : 0;
    }
    const Snapshot next = Applied(c.snapshot, first, kNow);
    const Plan second = Decide(next, c.config, kNow);
    for (const Pending* h : heads) {
      ++checked;
      if (testing::FindStart(second, h->attempt_id) != nullptr) continue;
      const Pending* again = testing::FindPending(second, h->attempt_id);
      ASSERT_NE(again, nullptr);
      if (again->reason == PendingReason::kWaitingForPreemption) continue;  // starts sooner
      // A head waiting for nodes does not hold its owner's quota (as before limits): a
      // task of the same owner and tier behind it may take it. Not a question of nodes.
      if (again->reason == PendingReason::kOutOfQuota) continue;
      ASSERT_FALSE(again->reserved_nodes.empty())
          << "seed " << seed << ": head " << h->attempt_id << " lost its reservation\n"
          << testing::Describe(next, c.config, kNow) << testing::Serialize(second);
      ASSERT_LE(again->reserved_start, h->reserved_start)
          << "seed " << seed << ": head " << h->attempt_id << "\n"
          << testing::Describe(next, c.config, kNow) << testing::Serialize(second);
    }
  }
  EXPECT_GT(checked, 200);
  EXPECT_GT(backfilled, 20);
}

TEST(PolicyPropertyTest, InvariantsHoldOnRandomSnapshots) {
  int over_quota_plans = 0;  // the over-quota path is exercised too
  for (uint32_t seed = 1; seed <= 10000; ++seed) {
    Case c = Generate(seed);
    Plan p = Decide(c.snapshot, c.config, kNow);
    over_quota_plans += std::any_of(p.suspends.begin(), p.suspends.end(), [](const auto& x) {
      return x.kind == SuspendKind::kOverQuota;
    });
    {
      SCOPED_TRACE(absl::StrCat("seed ", seed));
      testing::CheckInvariants(c.snapshot, c.config, p, kNow);
    }
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "seed " << seed << " snapshot:\n"
                    << testing::Describe(c.snapshot, c.config, kNow) << "plan:\n"
                    << testing::Serialize(p);
      return;
    }
  }
  EXPECT_GT(over_quota_plans, 100);
}

TEST(PolicyPropertyTest, IdenticalInputGivesIdenticalPlan) {
  for (uint32_t seed = 1; seed <= 2000; ++seed) {
    Case c = Generate(seed);
    const std::string a = testing::Serialize(Decide(c.snapshot, c.config, kNow));
    EXPECT_EQ(a, testing::Serialize(Decide(c.snapshot, c.config, kNow))) << "seed " << seed;
    // Input order must not matter either.
    std::mt19937 rng(seed);
    std::shuffle(c.snapshot.nodes.begin(), c.snapshot.nodes.end(), rng);
    std::shuffle(c.snapshot.running.begin(), c.snapshot.running.end(), rng);
    std::shuffle(c.snapshot.queued.begin(), c.snapshot.queued.end(), rng);
    ASSERT_EQ(a, testing::Serialize(Decide(c.snapshot, c.config, kNow))) << "seed " << seed;
  }
}

}  // namespace
}  // namespace hai::policy
