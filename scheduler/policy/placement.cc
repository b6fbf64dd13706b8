// Free-capacity placement (see placement.h for the rules and why).
#include "scheduler/policy/placement.h"

#include <algorithm>
#include <numeric>

namespace hai::policy::internal {

std::optional<std::vector<NodeIdx>> PickWholeNodes(const Cluster& cluster, int group,
                                                   int count, int min_gpus) {
  std::vector<NodeIdx> out;
  if (count <= 0) return out;
  const GroupInfo& gi = cluster.groups()[group];
  const auto& nodes = cluster.nodes();
  const bool all_fit = min_gpus <= gi.min_usable_gpus;
  if (all_fit && gi.free_whole < count) return std::nullopt;

  const int nd = static_cast<int>(gi.domains.size());
  std::vector<int> fit(nd, 0);
  std::vector<int> room_total(gi.rooms, 0);
  int total = 0;
  for (int d = 0; d < nd; ++d) {
    const Domain& dom = gi.domains[d];
    if (all_fit) {
      fit[d] = static_cast<int>(dom.free.size());
    } else {
      for (NodeIdx n : dom.free) fit[d] += nodes[n].gpus >= min_gpus ? 1 : 0;
    }
    room_total[dom.room_id] += fit[d];
    total += fit[d];
  }
  if (total < count) return std::nullopt;

  auto take = [&](int d, int want) {
    for (NodeIdx n : gi.domains[d].free) {
      if (want == 0) break;
      if (nodes[n].gpus < min_gpus) continue;
      out.push_back(n);
      --want;
    }
  };
  // Domains of a room (or all rooms when room < 0), fullest first, ties by domain index.
  auto fill = [&](int room) {
    std::vector<int> order;
    for (int d = 0; d < nd; ++d) {
      if (fit[d] > 0 && (room < 0 || gi.domains[d].room_id == room)) order.push_back(d);
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      if (room < 0 && gi.domains[a].room_id != gi.domains[b].room_id) {
        const int ra = room_total[gi.domains[a].room_id];
        const int rb = room_total[gi.domains[b].room_id];
        if (ra != rb) return ra > rb;
        return gi.domains[a].room_id < gi.domains[b].room_id;
      }
      return fit[a] > fit[b];
    });
    for (int d : order) {
      const int want = count - static_cast<int>(out.size());
      if (want == 0) break;
      take(d, std::min(want, fit[d]));
    }
  };

  int best = -1;
  for (int d = 0; d < nd; ++d) {
    if (fit[d] >= count && (best < 0 || fit[d] < fit[best])) best = d;
  }
  if (best >= 0) {
    take(best, count);
    return out;
  }
  int best_room = -1;
  for (int r = 0; r < gi.rooms; ++r) {
    if (room_total[r] >= count && (best_room < 0 || room_total[r] < room_total[best_room])) {
      best_room = r;
    }
  }
  fill(best_room);
  return out;
}

std::optional<NodeIdx> PickPackedNode(const Cluster& cluster, int group, int gpus) {
  const GroupInfo& gi = cluster.groups()[group];
  const auto& nodes = cluster.nodes();
  for (int f = std::max(gpus, 1); f <= gi.max_usable_gpus; ++f) {
    if (!gi.partial[f].empty()) return *gi.partial[f].begin();
  }
  int best_domain = -1;
  size_t best_size = 0;
  for (int d = 0; d < static_cast<int>(gi.domains.size()); ++d) {
    const Domain& dom = gi.domains[d];
    if (dom.free.empty()) continue;
    if (best_domain >= 0 && dom.free.size() >= best_size) continue;
    bool any = false;
    for (NodeIdx n : dom.free) {
      if (nodes[n].gpus >= gpus) {
        any = true;
        break;
      }
    }
    if (!any) continue;
    best_domain = d;
    best_size = dom.free.size();
  }
  if (best_domain < 0) return std::nullopt;
  // Smallest node that fits, so bigger nodes stay whole.
  std::optional<NodeIdx> pick;
  for (NodeIdx n : gi.domains[best_domain].free) {
    if (nodes[n].gpus >= gpus && (!pick || nodes[n].gpus < nodes[*pick].gpus)) pick = n;
  }
  return pick;
}

Mask LowestFreeGpus(const NodeInfo& node, int count) {
  Mask out = 0;
  for (int i = 0; i < node.gpus && count > 0; ++i) {
    const Mask bit = Mask{1} << i;
    if ((node.used & bit) == 0) {
      out |= bit;
      --count;
    }
  }
  return out;
}

std::vector<int> MaskToGpus(Mask mask) {
  std::vector<int> out;
  for (int i = 0; mask != 0; ++i, mask >>= 1) {
    if (mask & 1) out.push_back(i);
  }
  return out;
}

}  // namespace hai::policy::internal
