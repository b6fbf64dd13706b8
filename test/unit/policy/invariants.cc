// Plan invariants shared by the property and simulation tests (see invariants.h).
#include "test/unit/policy/invariants.h"

#include <algorithm>
#include <bit>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scheduler/policy/pending_detail.h"
#include "scheduler/policy/rules.h"
#include "scheduler/policy/tier.h"
#include "test/unit/policy/builders.h"

namespace hai::policy::testing {

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
    o << "P" << w.attempt_id << " " << PendingReasonName(w.reason) << " " << w.missing_nodes << " "
      << w.position_in_tier << " " << static_cast<int>(w.tier) << " " << PendingDetail(w, "", "");
    for (const auto& n : w.reserved_nodes) o << " " << n;
    o << "\n";
  }
  return o.str();
}

// The snapshot in a compact form, printed with the plan when an invariant fails.
std::string Describe(const Snapshot& s, const PolicyConfig& config, absl::Time now) {
  std::ostringstream o;
  for (const Node& n : s.nodes) {
    o << "node " << n.name << " " << n.group << " gpus=" << n.gpus << " " << n.room << "/" << n.sw
      << " state=" << static_cast<int>(n.state) << (n.jupyter ? " jupyter" : "") << "\n";
  }
  auto task = [&](const char* kind, const Task& t) {
    o << kind << " " << t.attempt_id << " " << t.user << " prio=" << t.requested_priority
      << " tier=" << static_cast<int>(t.tier) << " " << t.group << " " << t.nodes << "x"
      << t.gpus_per_node << " submit=" << absl::ToInt64Seconds(t.first_submit - kT0)
      << (t.held ? " held" : "") << (t.suspend_requested ? " suspending" : "");
    if (t.time_limit != absl::InfiniteDuration()) {
      o << " limit=" << absl::FormatDuration(t.time_limit);
    }
    if (!t.reserved_nodes.empty()) {
      o << " holds";
      for (const auto& n : t.reserved_nodes) o << " " << n;
    }
    if (!t.placement.empty()) {
      o << " since=" << absl::ToInt64Seconds(now - t.running_since) << "s_ago on";
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
  o << "preemption=" << config.preemption
    << " default_min_runtime=" << absl::FormatDuration(config.default_min_runtime)
    << " demote_after=" << absl::FormatDuration(config.above_normal_demote_after);
  for (const auto& [t, d] : config.min_runtime) {
    o << " min_runtime[" << static_cast<int>(t) << "]=" << absl::FormatDuration(d);
  }
  o << "\n";
  return o.str();
}

namespace {

// `t` as a running task started at `now` (for its limit's end).
Task Started(const Task& t, absl::Time now) {
  Task r = t;
  r.running_since = now;
  return r;
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
    return n.gpus -
           (it == used.end() ? 0 : std::popcount(it->second & ((uint64_t{1} << n.gpus) - 1)));
  }
  bool Fits(const Task& t, const std::set<std::string>& extra_free = {},
            const std::set<std::string>& exclude = {}) const {
    const bool packed = t.nodes == 1 && t.gpus_per_node > 0;
    int count = 0;
    for (const auto& [name, n] : nodes) {
      if (!Usable(*n) || n->group != t.group || reserved.contains(name) || exclude.contains(name)) {
        continue;
      }
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

}  // namespace

void CheckInvariants(const Snapshot& s, const PolicyConfig& config, const Plan& p, absl::Time now) {
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
  // Holds carried from the previous plan (Task::reserved_nodes): first holder in queue
  // order wins a node; a held node is out of reach of every task ahead of its holder.
  std::map<int64_t, Tier> plan_tier;
  for (const auto& st : p.starts) plan_tier[st.attempt_id] = st.tier;
  for (const auto& w : p.pending) plan_tier[w.attempt_id] = w.tier;
  std::vector<const Task*> by_order;
  for (const Task& t : s.queued) by_order.push_back(&t);
  std::sort(by_order.begin(), by_order.end(), [&](const Task* a, const Task* b) {
    return order_key(a->attempt_id, plan_tier.at(a->attempt_id)) <
           order_key(b->attempt_id, plan_tier.at(b->attempt_id));
  });
  std::map<std::string, int64_t> carried;
  for (const Task* t : by_order) {
    if (t->held) continue;
    for (const std::string& name : t->reserved_nodes) {
      auto n = occ.nodes.find(name);
      if (n == occ.nodes.end() || !occ.Usable(*n->second) || n->second->group != t->group) {
        continue;
      }
      carried.emplace(name, t->attempt_id);
    }
  }
  // Carried-held nodes whose holder comes after `id`: `id` may not use them.
  auto held_against = [&](int64_t id) {
    std::set<std::string> out;
    const auto me = order_key(id, plan_tier.at(id));
    for (const auto& [name, h] : carried) {
      if (h != id && me < order_key(h, plan_tier.at(h))) out.insert(name);
    }
    return out;
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
      ASSERT_FALSE(held_against(st.attempt_id).contains(r.node))
          << "start of " << st.attempt_id << " on " << r.node
          << ", carried over as held for a task behind it";
      if (auto h = holder.find(r.node); h != holder.end()) {
        const Pending& w = *h->second;
        // Behind the holder only by EASY backfill: its own limit ends by the holder's start.
        const absl::Time ends = LimitEnd(Started(t, now));
        const bool backfill = w.reason != PendingReason::kWaitingForPreemption &&
                              ends != absl::InfiniteFuture() && ends <= w.reserved_start;
        ASSERT_TRUE(backfill || order_key(st.attempt_id, st.tier) < order_key(w.attempt_id, w.tier))
            << "start of " << st.attempt_id << " on " << r.node << " reserved for " << w.attempt_id
            << ", which is ahead of it";
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
      ASSERT_EQ(static_cast<int>(r.gpus.size()), t.gpus_per_node > 0 ? t.gpus_per_node : n.gpus);
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

  // Victims: not already suspending, each once. Preemption victims: strictly lower tier,
  // unprotected. Over-quota victims: only when configured, of an owner over its quota at
  // the victim's effective tier, no preemptor.
  std::set<int64_t> victims;
  std::map<std::tuple<std::string, std::string, Tier>, int64_t> holding;  // not leaving
  for (const Task& t : s.running) {
    if (!t.suspend_requested) holding[{t.user, t.group, eff[t.attempt_id]}] += std::max(t.nodes, 1);
  }
  for (const auto& x : p.suspends) {
    ASSERT_TRUE(victims.insert(x.victim_attempt_id).second);
    const Task& v = *running.at(x.victim_attempt_id);
    ASSERT_FALSE(v.suspend_requested);
    if (x.kind == SuspendKind::kOverQuota) {
      ASSERT_TRUE(config.suspend_over_quota);
      ASSERT_EQ(x.preemptor_attempt_id, 0);
      auto q = s.quota.find(QuotaKey{v.user, v.group, eff[v.attempt_id]});
      const int64_t quota = q == s.quota.end() ? 0 : q->second;
      ASSERT_GT((holding[{v.user, v.group, eff[v.attempt_id]}]), quota)
          << "over-quota victim " << v.attempt_id << " of an owner within quota";
      continue;
    }
    if (x.kind == SuspendKind::kOverLimit) {
      // Past its own limit, on nodes held for a waiting task of its tier or above that
      // could start once it and the tasks already leaving stop (checked below).
      const Pending* w = pend.at(x.preemptor_attempt_id);
      ASSERT_EQ(w->reason, PendingReason::kWaitingForPreemption);
      ASSERT_TRUE(OverLimit(v, now)) << "victim " << v.attempt_id << " within its limit";
      ASSERT_LE(static_cast<int>(eff[v.attempt_id]), static_cast<int>(w->tier));
      bool on_held = false;
      for (const auto& pl : v.placement) {
        on_held |= std::find(w->reserved_nodes.begin(), w->reserved_nodes.end(), pl.node) !=
                   w->reserved_nodes.end();
      }
      ASSERT_TRUE(on_held) << "over-limit victim " << v.attempt_id << " off its preemptor's nodes";
      continue;
    }
    ASSERT_TRUE(config.preemption);
    const Pending* w = pend.at(x.preemptor_attempt_id);
    ASSERT_EQ(w->reason, PendingReason::kWaitingForPreemption);
    ASSERT_LT(static_cast<int>(eff[v.attempt_id]), static_cast<int>(w->tier))
        << "victim of equal or higher tier";
    ASSERT_GE(now - v.running_since, MinRuntime(config, eff[v.attempt_id])) << "protected victim";
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
          if (goes)
            freed += (r.nodes > 1 || r.gpus_per_node == 0) ? occ.nodes.at(name)->gpus
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
    const std::set<std::string> not_mine = held_against(t.attempt_id);
    ASSERT_FALSE(occ.Fits(t, {}, not_mine))
        << "task " << t.attempt_id << " fits but waits: " << PendingDetail(w, t.user, t.group);
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
      // What the lower task holds from the previous plan stays out of reach either way.
      std::set<std::string> exclude = not_mine;
      for (const auto& [name, h] : carried) {
        if (h == st.attempt_id) exclude.insert(name);
      }
      ASSERT_FALSE(without.Fits(t, freed, exclude))
          << "lower-tier " << st.attempt_id << " started while " << t.attempt_id << " fits";
    }
  }
}

}  // namespace hai::policy::testing
