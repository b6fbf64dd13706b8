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
#include "scheduler/policy/tier.h"
#include "test/unit/policy/builders.h"

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
    t.first_submit = kNow - absl::Seconds(uni(0, 20)) * 600;  // many ties
    s.queued.push_back(t);
  }
  c.config.preemption = chance(80);
  if (chance(50)) c.config.default_min_runtime = absl::Minutes(uni(0, 120));
  if (chance(50)) c.config.min_runtime[tiers[uni(0, 6)]] = absl::Minutes(uni(0, 240));
  if (chance(30)) c.config.above_normal_demote_after = absl::Minutes(uni(1, 600));
  return c;
}

std::string Serialize(const Plan& p) {
  std::ostringstream o;
  for (const auto& s : p.starts) {
    o << "S" << s.attempt_id << ":" << static_cast<int>(s.tier);
    for (const auto& r : s.placement) {
      o << "," << r.node << "[";
      for (int g : r.gpus) o << g << " ";
      o << "]";
    }
    o << "\n";
  }
  for (const auto& s : p.suspends) {
    o << "X" << s.victim_attempt_id << "<" << s.preemptor_attempt_id << " " << s.reason << "\n";
  }
  for (const auto& d : p.demotions) o << "D" << d.attempt_id << "\n";
  for (const auto& w : p.pending) {
    o << "P" << w.attempt_id << " " << PendingReasonName(w.reason) << " " << w.missing_nodes
      << " " << w.position_in_tier << " " << static_cast<int>(w.tier) << " " << w.detail;
    for (const auto& n : w.reserved_nodes) o << " " << n;
    o << "\n";
  }
  return o.str();
}

// The snapshot in a compact form, printed with the plan when an invariant fails.
std::string Describe(const Case& c) {
  std::ostringstream o;
  const Snapshot& s = c.snapshot;
  for (const Node& n : s.nodes) {
    o << "node " << n.name << " " << n.group << " gpus=" << n.gpus << " " << n.room << "/"
      << n.sw << " state=" << static_cast<int>(n.state) << (n.jupyter ? " jupyter" : "") << "\n";
  }
  auto task = [&](const char* kind, const Task& t) {
    o << kind << " " << t.attempt_id << " " << t.user << " prio=" << t.requested_priority
      << " tier=" << static_cast<int>(t.tier) << " " << t.group << " " << t.nodes << "x"
      << t.gpus_per_node << " submit=" << absl::ToInt64Seconds(t.first_submit - kT0)
      << (t.held ? " held" : "") << (t.suspend_requested ? " suspending" : "");
    if (!t.placement.empty()) {
      o << " since=" << absl::ToInt64Seconds(kNow - t.running_since) << "s_ago on";
      for (const auto& r : t.placement) {
        o << " " << r.node << "[";
        for (int g : r.gpus) o << g;
        o << "]";
      }
    }
    o << "\n";
  };
  for (const Task& t : s.running) task("run", t);
  for (const Task& t : s.queued) task("queue", t);
  for (const auto& [k, v] : s.quota) {
    o << "quota " << k.user << " " << k.group << " " << static_cast<int>(k.tier) << "=" << v
      << "\n";
  }
  o << "preemption=" << c.config.preemption
    << " default_min_runtime=" << absl::FormatDuration(c.config.default_min_runtime)
    << " demote_after=" << absl::FormatDuration(c.config.above_normal_demote_after);
  for (const auto& [t, d] : c.config.min_runtime) {
    o << " min_runtime[" << static_cast<int>(t) << "]=" << absl::FormatDuration(d);
  }
  o << "\n";
  return o.str();
}

// Node occupancy after the plan, for the fit checks.
struct Occupancy {
  std::map<std::string, const Node*> nodes;
  std::map<std::string, uint64_t> used;
  std::map<std::string, int> tasks;
  std::set<std::string> reserved;

  bool Usable(const Node& n) const { return n.state == NodeState::kReady && !n.jupyter; }
  int Free(const Node& n) const {
    auto it = used.find(n.name);
    return n.gpus - (it == used.end() ? 0 : std::popcount(it->second & ((uint64_t{1} << n.gpus) - 1)));
  }
  bool Fits(const Task& t, const std::set<std::string>& extra_free = {}) const {
    const bool packed = t.nodes == 1 && t.gpus_per_node > 0;
    int count = 0;
    for (const auto& [name, n] : nodes) {
      if (!Usable(*n) || n->group != t.group || reserved.contains(name)) continue;
      if (n->gpus < t.gpus_per_node) continue;
      const bool freed = extra_free.contains(name);
      auto it = tasks.find(name);
      const bool empty = freed || it == tasks.end() || it->second == 0;
      if (packed) {
        if (freed || Free(*n) >= t.gpus_per_node) return true;
      } else if (empty) {
        ++count;
      }
    }
    return !packed && count >= t.nodes;
  }
};

void CheckInvariants(const Case& c, const Plan& p, uint32_t seed) {
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  const Snapshot& s = c.snapshot;
  std::map<int64_t, const Task*> queued, running;
  for (const Task& t : s.queued) queued[t.attempt_id] = &t;
  for (const Task& t : s.running) running[t.attempt_id] = &t;

  // Every queued task is started or pending, exactly once.
  std::map<int64_t, int> seen;
  for (const auto& st : p.starts) ++seen[st.attempt_id];
  for (const auto& w : p.pending) ++seen[w.attempt_id];
  ASSERT_EQ(seen.size(), queued.size());
  for (const auto& [id, n] : seen) {
    ASSERT_EQ(n, 1) << "task " << id;
    ASSERT_TRUE(queued.contains(id)) << "task " << id;
  }

  Occupancy occ;
  for (const Node& n : s.nodes) occ.nodes[n.name] = &n;
  std::map<int64_t, Tier> eff;
  for (const Task& t : s.running) eff[t.attempt_id] = t.tier;
  for (const Demotion& d : p.demotions) {
    ASSERT_EQ(running.at(d.attempt_id)->tier, Tier::kAboveNormal);
    eff[d.attempt_id] = d.to;
  }
  for (const Task& t : s.running) {
    for (const auto& r : t.placement) {
      const bool whole = t.nodes > 1 || t.gpus_per_node == 0;
      uint64_t m = 0;
      for (int g : r.gpus) m |= uint64_t{1} << g;
      occ.used[r.node] |= whole ? ~uint64_t{0} : m;
      ++occ.tasks[r.node];
    }
  }
  // Queue order as Decide serves it: effective tier desc, first submit, attempt id.
  auto order_key = [&](int64_t id, Tier tier) {
    const Task& t = *queued.at(id);
    return std::make_tuple(-static_cast<int>(tier), t.first_submit, id);
  };
  std::map<int64_t, const Pending*> pend;
  std::map<std::string, const Pending*> holder;  // reserved node -> the task it is held for
  for (const auto& w : p.pending) {
    pend[w.attempt_id] = &w;
    for (const auto& n : w.reserved_nodes) {
      ASSERT_TRUE(holder.emplace(n, &w).second) << "node " << n << " reserved twice";
      occ.reserved.insert(n);
    }
  }

  // Starts: valid nodes, no GPU or node double-booked, never on reserved nodes.
  std::map<std::tuple<std::string, std::string, Tier>, int64_t> usage;
  for (const Task& t : s.running) usage[{t.user, t.group, eff[t.attempt_id]}] += t.nodes;
  for (const auto& st : p.starts) {
    const Task& t = *queued.at(st.attempt_id);
    ASSERT_FALSE(t.held);
    ASSERT_EQ(static_cast<int>(st.placement.size()), t.nodes);
    const bool packed = t.nodes == 1 && t.gpus_per_node > 0;
    std::set<std::string> distinct;
    for (const auto& r : st.placement) {
      ASSERT_TRUE(distinct.insert(r.node).second);
      ASSERT_TRUE(occ.nodes.contains(r.node));
      const Node& n = *occ.nodes.at(r.node);
      ASSERT_TRUE(occ.Usable(n)) << r.node;
      ASSERT_EQ(n.group, t.group);
      // A node is held against every task behind its holder in queue order. Tasks ahead
      // of the holder were placed first and may share it: a whole-node head drains them
      // like any running task; a GPU-packed holder's GPUs are checked below. A gang
      // preemptor's nodes must come clear, so nobody may start there at all.
      if (auto h = holder.find(r.node); h != holder.end()) {
        const Pending& w = *h->second;
        ASSERT_LT(order_key(st.attempt_id, st.tier), order_key(w.attempt_id, w.tier))
            << "start of " << st.attempt_id << " on " << r.node << " reserved for "
            << w.attempt_id << ", which is ahead of it";
        const Task& wt = *queued.at(w.attempt_id);
        ASSERT_FALSE(w.reason == PendingReason::kWaitingForPreemption &&
                     !(wt.nodes == 1 && wt.gpus_per_node > 0))
            << "start of " << st.attempt_id << " on " << r.node << ", held for gang "
            << w.attempt_id;
      }
      uint64_t m = 0;
      for (int g : r.gpus) {
        ASSERT_TRUE(g >= 0 && g < n.gpus);
        m |= uint64_t{1} << g;
      }
      ASSERT_EQ(static_cast<int>(r.gpus.size()),
                t.gpus_per_node > 0 ? t.gpus_per_node : n.gpus);
      if (packed) {
        ASSERT_EQ(occ.used[r.node] & m, 0u) << "GPU double-booked on " << r.node;
        occ.used[r.node] |= m;
      } else {
        ASSERT_EQ(occ.tasks[r.node], 0) << "whole node " << r.node << " not free";
        occ.used[r.node] = ~uint64_t{0};
      }
      ++occ.tasks[r.node];
    }
    // Quota is not exceeded by what this plan starts.
    auto& u = usage[{t.user, t.group, st.tier}];
    u += t.nodes;
    auto q = s.quota.find(QuotaKey{t.user, t.group, st.tier});
    ASSERT_TRUE(q != s.quota.end());
    ASSERT_LE(u, q->second) << "quota exceeded by " << st.attempt_id;
    if (t.requested_priority != kAutoPriority) {
      ASSERT_EQ(static_cast<int>(st.tier), t.requested_priority);
    }
  }

  // Victims: strictly lower tier, unprotected, not already suspending, each once.
  std::set<int64_t> victims;
  for (const auto& x : p.suspends) {
    ASSERT_TRUE(victims.insert(x.victim_attempt_id).second);
    const Task& v = *running.at(x.victim_attempt_id);
    ASSERT_FALSE(v.suspend_requested);
    ASSERT_TRUE(c.config.preemption);
    const Pending* w = pend.at(x.preemptor_attempt_id);
    ASSERT_EQ(w->reason, PendingReason::kWaitingForPreemption);
    ASSERT_LT(static_cast<int>(eff[v.attempt_id]), static_cast<int>(w->tier))
        << "victim of equal or higher tier";
    auto mr = c.config.min_runtime.find(eff[v.attempt_id]);
    const absl::Duration min_rt =
        mr == c.config.min_runtime.end() ? c.config.default_min_runtime : mr->second;
    ASSERT_GE(kNow - v.running_since, min_rt) << "protected victim";
  }

  // Gang: what is held for a preemptor is enough once its victims and freeing tasks stop.
  for (const auto& w : p.pending) {
    if (w.reason != PendingReason::kWaitingForPreemption) continue;
    const Task& t = *queued.at(w.attempt_id);
    const bool packed = t.nodes == 1 && t.gpus_per_node > 0;
    ASSERT_EQ(static_cast<int>(w.reserved_nodes.size()), packed ? 1 : t.nodes);
    for (const auto& name : w.reserved_nodes) {
      int freed = 0;
      bool all_go = true;
      for (const Task& r : s.running) {
        for (const auto& pl : r.placement) {
          if (pl.node != name) continue;
          const bool goes = r.suspend_requested || victims.contains(r.attempt_id);
          all_go &= goes;
          if (goes) freed += (r.nodes > 1 || r.gpus_per_node == 0)
                                 ? occ.nodes.at(name)->gpus
                                 : static_cast<int>(pl.gpus.size());
        }
      }
      if (packed) {
        ASSERT_GE(occ.Free(*occ.nodes.at(name)) + freed, t.gpus_per_node) << name;
      } else {
        ASSERT_TRUE(all_go) << "gang node " << name << " keeps a non-victim";
      }
    }
  }

  // Nobody waits for nodes that are free and unreserved, and no lower tier started on
  // capacity a waiting higher-tier task could have used.
  for (const auto& w : p.pending) {
    if (w.reason != PendingReason::kWaitingForNodes &&
        w.reason != PendingReason::kBlockedByReservation &&
        w.reason != PendingReason::kWaitingForPreemption) {
      continue;
    }
    const Task& t = *queued.at(w.attempt_id);
    ASSERT_FALSE(occ.Fits(t)) << "task " << t.attempt_id << " fits but waits: " << w.detail;
    for (const auto& st : p.starts) {
      if (static_cast<int>(st.tier) >= static_cast<int>(w.tier)) continue;
      if (queued.at(st.attempt_id)->group != t.group) continue;
      const Task& lower = *queued.at(st.attempt_id);
      std::set<std::string> freed;
      if (lower.nodes > 1 || lower.gpus_per_node == 0) {
        for (const auto& r : st.placement) freed.insert(r.node);
      }
      // Packed lower starts: give their GPUs back.
      Occupancy without = occ;
      if (freed.empty()) {
        for (const auto& r : st.placement) {
          for (int g : r.gpus) without.used[r.node] &= ~(uint64_t{1} << g);
          --without.tasks[r.node];
        }
      }
      ASSERT_FALSE(without.Fits(t, freed))
          << "lower-tier " << st.attempt_id << " started while " << t.attempt_id << " fits";
    }
  }
}

TEST(PolicyPropertyTest, InvariantsHoldOnRandomSnapshots) {
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    Case c = Generate(seed);
    Plan p = Decide(c.snapshot, c.config, kNow);
    CheckInvariants(c, p, seed);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "snapshot:\n" << Describe(c) << "plan:\n" << Serialize(p);
      return;
    }
  }
}

TEST(PolicyPropertyTest, IdenticalInputGivesIdenticalPlan) {
  for (uint32_t seed = 1; seed <= 1000; ++seed) {
    Case c = Generate(seed);
    const std::string a = Serialize(Decide(c.snapshot, c.config, kNow));
    EXPECT_EQ(a, Serialize(Decide(c.snapshot, c.config, kNow))) << "seed " << seed;
    // Input order must not matter either.
    std::mt19937 rng(seed);
    std::shuffle(c.snapshot.nodes.begin(), c.snapshot.nodes.end(), rng);
    std::shuffle(c.snapshot.running.begin(), c.snapshot.running.end(), rng);
    std::shuffle(c.snapshot.queued.begin(), c.snapshot.queued.end(), rng);
    ASSERT_EQ(a, Serialize(Decide(c.snapshot, c.config, kNow))) << "seed " << seed;
  }
}

}  // namespace
}  // namespace hai::policy
