// The simulator decides each node group on its own (replay.h): a pass over a group's
// nodes, tasks and quota only. That is sound only if policy::Decide never lets one group
// influence another. This checks it on random multi-group snapshots (packed and gang
// tasks, every tier, AUTO, limited quotas, victims already suspending, ABOVE_NORMAL tasks
// due for demotion): Decide over the whole snapshot and the union of Decide over each
// group's part give the same starts, suspensions, demotions and pending reasons.
#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "scheduler/policy/decide.h"
#include "test/unit/policy/builders.h"

namespace hai::policy {
namespace {

using testing::kT0;

const char* const kGroups[] = {"ga", "gb", "gc"};

Snapshot RandomSnapshot(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Snapshot s;
  for (const char* g : kGroups) {
    const int nodes = pick(3, 8);
    for (int n = 0; n < nodes; ++n) {
      s.nodes.push_back(testing::MakeNode(std::string(g) + "-" + std::to_string(n), g, 8,
                                          "s" + std::to_string(n % 2)));
    }
    for (int u = 0; u < 3; ++u) {
      for (Tier t : {Tier::kLow, Tier::kBelowNormal, Tier::kNormal, Tier::kAboveNormal, Tier::kHigh,
                     Tier::kVeryHigh, Tier::kExtremeHigh}) {
        s.quota[{"u" + std::to_string(u), g, t}] = pick(0, 4) == 0 ? pick(1, 3) : 100;
      }
    }
  }
  const Tier tiers[] = {Tier::kLow, Tier::kNormal, Tier::kAboveNormal, Tier::kHigh,
                        Tier::kVeryHigh};
  int64_t id = 1;
  auto make = [&](int max_tier_index) {
    const int shape = pick(0, 5);
    const int nodes = shape == 5 ? pick(2, 3) : 1;
    const int gpus = shape == 5 ? 0 : std::vector<int>{1, 2, 4, 8, 0}[shape];
    Task t = testing::Queued(id, "u" + std::to_string(pick(0, 2)), tiers[pick(0, max_tier_index)],
                             nodes, gpus, pick(-5000, 0), kGroups[pick(0, 2)]);
    if (pick(0, 9) == 0) t.requested_priority = kAutoPriority;
    ++id;
    return t;
  };
  // Fill the cluster with low-ish work through Decide itself, so placements are valid.
  for (int i = 0; i < 60; ++i) s.queued.push_back(make(2));
  Plan fill = Decide(s, {}, kT0);
  std::map<int64_t, Task> queued;
  for (Task& t : s.queued) queued[t.attempt_id] = t;
  s.queued.clear();
  for (const StartDecision& st : fill.starts) {
    Task t = queued.at(st.attempt_id);
    t.tier = st.tier;
    t.placement = st.placement;
    t.running_since = kT0 - absl::Seconds(pick(0, 4000));
    t.suspend_requested = pick(0, 9) == 0;
    s.running.push_back(std::move(t));
  }
  // Then a queue reaching every tier.
  for (int i = 0; i < 50; ++i) s.queued.push_back(make(4));
  return s;
}

Snapshot Part(const Snapshot& s, const std::string& group) {
  Snapshot p;
  for (const Node& n : s.nodes) {
    if (n.group == group) p.nodes.push_back(n);
  }
  for (const Task& t : s.running) {
    if (t.group == group) p.running.push_back(t);
  }
  for (const Task& t : s.queued) {
    if (t.group == group) p.queued.push_back(t);
  }
  for (const auto& [k, v] : s.quota) {
    if (k.group == group) p.quota.emplace(k, v);
  }
  return p;
}

// Everything of a plan but positions (numbered across groups) and free text.
struct Canonical {
  std::vector<std::tuple<int64_t, int, std::vector<std::pair<std::string, std::vector<int>>>>>
      starts;
  std::vector<std::pair<int64_t, int64_t>> suspends;
  std::vector<int64_t> demotions;
  std::vector<std::tuple<int64_t, int, int, std::vector<std::string>>> pending;
  bool operator==(const Canonical&) const = default;
};

void Add(const Plan& p, Canonical* c) {
  for (const StartDecision& s : p.starts) {
    std::vector<std::pair<std::string, std::vector<int>>> where;
    for (const RankPlacement& r : s.placement) where.emplace_back(r.node, r.gpus);
    c->starts.emplace_back(s.attempt_id, static_cast<int>(s.tier), std::move(where));
  }
  for (const SuspendDecision& s : p.suspends) {
    c->suspends.emplace_back(s.victim_attempt_id, s.preemptor_attempt_id);
  }
  for (const Demotion& d : p.demotions) c->demotions.push_back(d.attempt_id);
  for (const Pending& w : p.pending) {
    c->pending.emplace_back(w.attempt_id, static_cast<int>(w.reason), w.missing_nodes,
                            w.reserved_nodes);
  }
}

void Sort(Canonical* c) {
  std::sort(c->starts.begin(), c->starts.end());
  std::sort(c->suspends.begin(), c->suspends.end());
  std::sort(c->demotions.begin(), c->demotions.end());
  std::sort(c->pending.begin(), c->pending.end());
}

TEST(GroupSplitTest, DecidingEachGroupAloneGivesTheSamePlan) {
  PolicyConfig config;
  config.min_runtime[Tier::kLow] = absl::Seconds(1000);
  config.above_normal_demote_after = absl::Seconds(1800);
  int suspends = 0;
  int starts = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const Snapshot whole = RandomSnapshot(seed);
    Canonical together;
    Add(Decide(whole, config, kT0), &together);
    Canonical split;
    for (const char* g : kGroups) Add(Decide(Part(whole, g), config, kT0), &split);
    Sort(&together);
    Sort(&split);
    ASSERT_EQ(together.starts, split.starts) << "seed " << seed;
    ASSERT_EQ(together.suspends, split.suspends) << "seed " << seed;
    ASSERT_EQ(together.demotions, split.demotions) << "seed " << seed;
    ASSERT_EQ(together.pending, split.pending) << "seed " << seed;
    suspends += static_cast<int>(together.suspends.size());
    starts += static_cast<int>(together.starts.size());
  }
  // The snapshots exercise what matters: starts and preemptions in every run of seeds.
  EXPECT_GT(starts, 40);
  EXPECT_GT(suspends, 20);
}

}  // namespace
}  // namespace hai::policy
