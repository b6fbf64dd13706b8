// Synthetic snapshots for the policy benchmarks (see snapshot_gen.h).
#include "bench/snapshot_gen.h"

#include <algorithm>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"

namespace hai::bench {
namespace {

using policy::Snapshot;
using policy::Task;
using policy::Tier;

constexpr Tier kAllTiers[] = {Tier::kLow,  Tier::kBelowNormal, Tier::kNormal,
                              Tier::kAboveNormal, Tier::kHigh, Tier::kVeryHigh,
                              Tier::kExtremeHigh};

}  // namespace

absl::Time BenchNow() { return absl::FromUnixSeconds(1'700'000'000) + absl::Hours(100); }

policy::PolicyConfig BenchConfig() {
  policy::PolicyConfig c;
  c.default_min_runtime = absl::Minutes(10);
  return c;
}

Snapshot Generate(const GenParams& p) {
  std::mt19937 rng(p.seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&](double x) { return std::uniform_real_distribution<double>(0, 1)(rng) < x; };
  const absl::Time now = BenchNow();
  Snapshot s;
  s.nodes.reserve(p.nodes);
  const int a100 = p.nodes * 7 / 10;
  for (int i = 0; i < p.nodes; ++i) {
    policy::Node n;
    const bool first = i < a100;
    const int local = first ? i : i - a100;
    n.name = absl::StrCat(first ? "a" : "h", local);
    n.group = first ? "a100" : "h800";
    n.gpus = p.gpus_per_node;
    n.sw = absl::StrCat("s", local / 32);
    n.room = absl::StrCat("r", local / 256);
    s.nodes.push_back(std::move(n));
  }
  auto user = [&] { return absl::StrCat("u", uni(0, p.users - 1)); };
  for (int u = 0; u < p.users; ++u) {
    for (const char* g : {"a100", "h800"}) {
      for (Tier t : kAllTiers) s.quota[{absl::StrCat("u", u), g, t}] = uni(4, 64);
    }
  }

  // Fill the nodes. Tasks per busy node (measured): whole-node and gang ~0.45, packed
  // ~4.2; pick the packed share that gives about `running` tasks.
  const int busy_nodes = static_cast<int>(p.nodes * (1.0 - p.free_fraction));
  const double ratio = static_cast<double>(p.running) / std::max(busy_nodes, 1);
  const double packed_share = std::clamp((ratio - 0.45) / (4.2 - 0.45), 0.0, 1.0);
  int64_t id = 1;
  auto running_tier = [&] {
    if (p.only_low_running) return Tier::kLow;
    const int r = uni(0, 99);
    return r < 40 ? Tier::kLow : r < 65 ? Tier::kBelowNormal : r < 85 ? Tier::kNormal
                                                     : r < 95 ? Tier::kAboveNormal
                                                              : Tier::kHigh;
  };
  auto base = [&](Tier tier, const policy::Node& n) {
    Task t;
    t.attempt_id = id++;
    t.chain_id = t.attempt_id;
    t.user = user();
    t.tier = tier;
    t.requested_priority = static_cast<int>(tier);
    t.group = n.group;
    t.running_since = now - absl::Seconds(uni(60, 36000));
    t.first_submit = t.running_since - absl::Seconds(uni(0, 3600));
    return t;
  };
  for (int i = 0; i < p.nodes;) {
    const policy::Node& n = s.nodes[i];
    if (chance(p.free_fraction)) {  // left free: some queued work starts directly
      ++i;
      continue;
    }
    if (chance(packed_share)) {
      int free = n.gpus;
      while (free > 0) {
        const int pick = uni(0, 4);  // 1, 1, 2, 2 or 4 GPUs
        const int k = std::min(free, pick < 2 ? 1 : pick < 4 ? 2 : 4);
        Task t = base(running_tier(), n);
        t.gpus_per_node = k;
        policy::RankPlacement r{n.name, {}};
        for (int g = n.gpus - free; g < n.gpus - free + k; ++g) r.gpus.push_back(g);
        t.placement.push_back(std::move(r));
        free -= k;
        s.running.push_back(std::move(t));
      }
      ++i;
      continue;
    }
    // A gang stays inside the switch and the group.
    int span = chance(0.3) ? uni(2, 8) : 1;
    while (span > 1 && (i + span > p.nodes || s.nodes[i + span - 1].sw != n.sw ||
                        s.nodes[i + span - 1].group != n.group)) {
      --span;
    }
    Task t = base(running_tier(), n);
    t.nodes = span;
    for (int j = i; j < i + span; ++j) t.placement.push_back({s.nodes[j].name, {}});
    s.running.push_back(std::move(t));
    i += span;
  }

  s.queued.reserve(p.queued);
  for (int q = 0; q < p.queued; ++q) {
    Task t;
    t.attempt_id = id++;
    t.chain_id = t.attempt_id;
    t.user = user();
    t.group = chance(0.7) ? "a100" : "h800";
    const int shape = uni(0, 99);
    if (shape < 50) {
      t.nodes = 1;
      t.gpus_per_node = 1 << uni(0, 2);
    } else if (shape < 85) {
      t.nodes = 1;
    } else {
      t.nodes = uni(2, 16);
    }
    if (chance(p.preempt_fraction)) {
      t.tier = kAllTiers[uni(4, 6)];
      t.requested_priority = static_cast<int>(t.tier);
    } else if (chance(0.2)) {
      t.requested_priority = policy::kAutoPriority;
    } else {
      t.tier = kAllTiers[uni(0, 3)];
      t.requested_priority = static_cast<int>(t.tier);
    }
    t.first_submit = now - absl::Seconds(uni(0, 86400));
    s.queued.push_back(std::move(t));
  }

  if (p.limit_fraction > 0) {
    std::mt19937 lrng(p.seed ^ 0x9e3779b9u);
    auto limit = [&](Task& t) {
      if (std::uniform_real_distribution<double>(0, 1)(lrng) < p.limit_fraction)
        t.time_limit = absl::Hours(std::uniform_int_distribution<int>(1, 24)(lrng));
    };
    for (Task& t : s.running) limit(t);
    for (Task& t : s.queued) limit(t);
  }
  return s;
}

}  // namespace hai::bench
