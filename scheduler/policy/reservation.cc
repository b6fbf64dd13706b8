// Head-of-tier reservations (rules in reservation.h).
#include "scheduler/policy/reservation.h"

#include <algorithm>
#include <tuple>

#include "scheduler/policy/placement.h"

namespace hai::policy::internal {
namespace {

// A run the head may count as gone from its node: already suspending, or past its time
// limit at or below the head's tier (it will be suspended when the head needs the node).
bool Gone(const RunInfo& r, absl::Time now, int tier) {
  return r.freeing || (now >= r.end && r.tier <= tier);
}

// When a run that is not gone leaves by its limit: a run past its limit that the head may
// not suspend leaves at an unknown time.
absl::Time LeavesAt(const RunInfo& r, absl::Time now) {
  return r.end <= now ? absl::InfiniteFuture() : r.end;
}

// Tasks started on the node in this pass leave by their limits (cluster.h started_until).
absl::Time NewStartsLeaveAt(const NodeInfo& ni, absl::Time now) {
  if (!ni.started_here) return now;
  return ni.started_until <= now ? absl::InfiniteFuture() : ni.started_until;
}

// When the whole node is free for a head of `tier`.
absl::Time WholeFreeAt(const Cluster& c, NodeIdx n, int tier) {
  const NodeInfo& ni = c.nodes()[n];
  const absl::Time now = c.now();
  absl::Time at = NewStartsLeaveAt(ni, now);
  for (int r : ni.running) {
    const RunInfo& ri = c.runs()[r];
    if (!Gone(ri, now, tier)) at = std::max(at, LeavesAt(ri, now));
  }
  return at;
}

// GPUs of the node a run holds.
int GpusOn(const RunInfo& r, NodeIdx n) {
  for (const auto& [m, mask] : r.on) {
    if (m == n) return Popcount(mask);
  }
  return 0;
}

// When `k` GPUs of the node are free for a packed head of `tier`; `over_limit` receives the
// runs past their limit whose GPUs make up k now (empty unless the result is now).
absl::Time PackedFreeAt(const Cluster& c, NodeIdx n, int k, int tier, std::vector<int>* over) {
  const NodeInfo& ni = c.nodes()[n];
  const absl::Time now = c.now();
  int avail = ni.FreeGpus() + ni.freeing_gpus;
  std::vector<std::pair<absl::Time, int>> leaving;  // (when, GPUs) of the other occupants
  std::vector<int> over_limit;
  int run_gpus = 0;
  for (int r : ni.running) {
    const RunInfo& ri = c.runs()[r];
    const int g = GpusOn(ri, n);
    run_gpus += g;
    if (ri.freeing) continue;
    if (Gone(ri, now, tier)) {
      over_limit.push_back(r);
      continue;
    }
    leaving.emplace_back(LeavesAt(ri, now), g);
  }
  const int new_gpus = Popcount(ni.used) - run_gpus;
  if (new_gpus > 0) leaving.emplace_back(NewStartsLeaveAt(ni, now), new_gpus);
  if (avail >= k) return now;
  for (int r : over_limit) {
    avail += GpusOn(c.runs()[r], n);
    over->push_back(r);
    if (avail >= k) return now;
  }
  over->clear();
  std::sort(leaving.begin(), leaving.end());
  for (const auto& [at, g] : leaving) {
    avail += g;
    if (avail >= k) return at;
  }
  return absl::InfiniteFuture();
}

HeadReservation PlanPacked(const Cluster& c, int group, int k, int tier) {
  const GroupInfo& gi = c.groups()[group];
  const auto& nodes = c.nodes();
  HeadReservation out;
  // Earliest start first; then the most free and freeing GPUs; then node order.
  std::tuple<absl::Time, int, NodeIdx> best{absl::InfiniteFuture(), 0, -1};
  std::vector<int> best_over;
  for (NodeIdx n : gi.nodes) {
    const NodeInfo& ni = nodes[n];
    if (!ni.usable || ni.reserved || ni.gpus < k) continue;
    std::vector<int> over;
    const absl::Time at = PackedFreeAt(c, n, k, tier, &over);
    const std::tuple<absl::Time, int, NodeIdx> key{at, -(ni.FreeGpus() + ni.freeing_gpus), n};
    if (std::get<2>(best) < 0 || key < best) {
      best = key;
      best_over = std::move(over);
    }
  }
  if (std::get<2>(best) < 0) return out;
  out.nodes.push_back(std::get<2>(best));
  out.start = std::get<0>(best);
  out.over_limit = std::move(best_over);
  return out;
}

struct Busy {
  absl::Time at;
  int blockers;
  int free_gpus;
  NodeIdx node;
  auto Key() const { return std::make_tuple(at, blockers, -free_gpus, node); }
};

HeadReservation PlanWhole(const Cluster& c, int group, int need, int k, int tier) {
  const GroupInfo& gi = c.groups()[group];
  const auto& nodes = c.nodes();
  const auto& runs = c.runs();
  const absl::Time now = c.now();
  HeadReservation out;
  int free_count = 0;
  std::vector<Busy> busy;
  for (NodeIdx n : gi.nodes) {
    const NodeInfo& ni = nodes[n];
    if (!ni.usable || ni.reserved || ni.gpus < k) continue;
    if (ni.occupants == 0) {
      ++free_count;
    } else {
      busy.push_back({WholeFreeAt(c, n, tier), ni.Blockers(), ni.FreeGpus(), n});
    }
  }
  // Not enough nodes beside the reservations ahead of it: holding some would only keep
  // them idle.
  if (free_count + static_cast<int>(busy.size()) < need) return out;
  std::sort(busy.begin(), busy.end(),
            [](const Busy& a, const Busy& b) { return a.Key() < b.Key(); });
  const int shortfall = std::max(need - free_count, 0);
  out.start = shortfall == 0 ? now : busy[shortfall - 1].at;
  for (int i = 0; i < shortfall; ++i) out.nodes.push_back(busy[i].node);
  // A busy node free by the start replaces a free node: it costs the head nothing and
  // leaves the free node to others. Only when the limits give the start: without them the
  // head's choice is remade every pass by its blockers, so a free node given away now (and
  // taken by a task without a limit) could be among its busy nodes in the next pass.
  if (out.start != absl::InfiniteFuture()) {
    for (size_t i = shortfall; i < busy.size() && static_cast<int>(out.nodes.size()) < need; ++i) {
      if (busy[i].at <= out.start) out.nodes.push_back(busy[i].node);
    }
  }
  const int rest = need - static_cast<int>(out.nodes.size());
  if (rest > 0) {
    std::optional<std::vector<NodeIdx>> free = PickWholeNodes(c, group, rest, k);
    if (!free) return {};  // cannot happen: free_count >= rest
    out.nodes.insert(out.nodes.end(), free->begin(), free->end());
  }
  if (out.start == now) {
    for (NodeIdx n : out.nodes) {
      for (int r : nodes[n].running) {
        if (!runs[r].freeing && Gone(runs[r], now, tier)) out.over_limit.push_back(r);
      }
    }
    std::sort(out.over_limit.begin(), out.over_limit.end());
    out.over_limit.erase(std::unique(out.over_limit.begin(), out.over_limit.end()),
                         out.over_limit.end());
  }
  return out;
}

}  // namespace

HeadReservation PlanHeadReservation(const Cluster& cluster, int group, const Task& task, int tier) {
  if (task.nodes == 1 && task.gpus_per_node > 0) {
    return PlanPacked(cluster, group, task.gpus_per_node, tier);
  }
  return PlanWhole(cluster, group, std::max(task.nodes, 1), std::max(task.gpus_per_node, 0), tier);
}

}  // namespace hai::policy::internal
