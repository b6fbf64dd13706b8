// Preemption search (rules and the no-loop argument in preemption.h).
//
// Cost: candidates are sorted once per group per pass (lazily, on the first search). Nodes
// and victims only ever become unusable during a pass (reserved, taken by a start of a tier
// that no later preemptor may suspend, or already suspended), so each group keeps a cursor
// past its dead prefix and a search walks only live entries up to the tier limit.
#include "scheduler/policy/preemption.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "scheduler/policy/placement.h"

namespace hai::policy::internal {

std::optional<PreemptionResult> FindWholeNodePreemption(Cluster& cluster, int group,
                                                        int count, int min_gpus,
                                                        int tier_limit) {
  GroupInfo& gi = cluster.groups()[group];
  if (!gi.preemption_index_built) cluster.BuildPreemptionIndex(group);
  auto& nodes = cluster.nodes();
  const auto& runs = cluster.runs();

  const int have = cluster.CountFreeWhole(group, min_gpus);
  const int need = count - have;
  if (need <= 0) return std::nullopt;  // the caller places directly

  // A busy node is a candidate while usable, unreserved and without new starts.
  auto alive = [&](NodeIdx n) {
    const NodeInfo& ni = nodes[n];
    return ni.usable && !ni.reserved && !ni.started_here && ni.occupants > 0 &&
           ni.gpus >= min_gpus;
  };
  while (gi.clear_cursor < gi.clear.size()) {
    const NodeInfo& ni = nodes[gi.clear[gi.clear_cursor].node];
    if ((!ni.reserved || ni.hold_for != 0) && !ni.started_here) break;
    ++gi.clear_cursor;
  }

  std::vector<NodeIdx> chosen;
  absl::flat_hash_set<NodeIdx> chosen_set;
  std::vector<int> victims;
  absl::flat_hash_set<int> victim_set;
  absl::flat_hash_map<NodeIdx, int> blockers;  // non-freeing occupants not yet victims

  auto add_victim = [&](int r, NodeIdx via) {
    victim_set.insert(r);
    victims.push_back(r);
    for (const auto& [m, mask] : runs[r].on) {
      if (m == via) continue;
      auto it = blockers.find(m);
      if (it == blockers.end()) {
        int b = 0;
        for (int o : nodes[m].running) {
          b += (!runs[o].freeing && !victim_set.contains(o)) ? 1 : 0;
        }
        // New starts block too (they are never victims).
        b += nodes[m].occupants - static_cast<int>(nodes[m].running.size());
        it = blockers.emplace(m, b).first;
      } else {
        --it->second;
      }
      // A gang victim can clear other nodes as a bonus.
      if (it->second == 0 && alive(m) && !chosen_set.contains(m)) {
        chosen.push_back(m);
        chosen_set.insert(m);
      }
    }
  };

  for (size_t i = gi.clear_cursor;
       i < gi.clear.size() && static_cast<int>(chosen.size()) < need; ++i) {
    const ClearCandidate& c = gi.clear[i];
    if (c.max_tier >= tier_limit) break;  // sorted by top tier: nothing further qualifies
    if (!alive(c.node) || chosen_set.contains(c.node)) continue;
    bool ok = true;
    for (int r : nodes[c.node].running) {
      if (!runs[r].freeing && !victim_set.contains(r) && runs[r].tier >= tier_limit) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    chosen.push_back(c.node);
    chosen_set.insert(c.node);
    blockers[c.node] = 0;
    for (int r : nodes[c.node].running) {
      if (!runs[r].freeing && !victim_set.contains(r)) add_victim(r, c.node);
    }
  }
  if (static_cast<int>(chosen.size()) < need) return std::nullopt;

  // Keep the first `need` cleared nodes, then only the victims that sit on them, then drop
  // victims (latest-added, i.e. dearest, first) whose nodes are not needed after all.
  chosen.resize(need);
  absl::flat_hash_set<NodeIdx> keep(chosen.begin(), chosen.end());
  auto touches = [&](int r) {
    for (const auto& [m, mask] : runs[r].on) {
      if (keep.contains(m)) return true;
    }
    return false;
  };
  std::vector<int> kept;
  for (int r : victims) {
    if (touches(r)) kept.push_back(r);
  }

  PreemptionResult out;
  out.victims = std::move(kept);
  std::sort(out.victims.begin(), out.victims.end(), [&](int a, int b) {
    if (runs[a].tier != runs[b].tier) return runs[a].tier < runs[b].tier;
    if (runs[a].task->running_since != runs[b].task->running_since) {
      return runs[a].task->running_since > runs[b].task->running_since;
    }
    return runs[a].task->attempt_id < runs[b].task->attempt_id;
  });
  std::optional<std::vector<NodeIdx>> free = PickWholeNodes(cluster, group, have, min_gpus);
  if (!free) return std::nullopt;  // cannot happen: `have` was counted the same way
  out.nodes = std::move(*free);
  out.nodes.insert(out.nodes.end(), chosen.begin(), chosen.end());
  out.not_free_now = need;
  return out;
}

std::optional<PreemptionResult> FindPackedPreemption(Cluster& cluster, int group, int gpus,
                                                     int tier_limit) {
  GroupInfo& gi = cluster.groups()[group];
  auto& nodes = cluster.nodes();
  const auto& runs = cluster.runs();
  auto alive = [&](NodeIdx n) {
    const NodeInfo& ni = nodes[n];
    return ni.usable && !ni.reserved && ni.group == group && ni.gpus >= gpus;
  };

  // 1. Freeing GPUs alone suffice: wait for them (smallest sufficient node, then name).
  for (size_t a = std::max(gpus, 1); a < gi.freeing_by_avail.size(); ++a) {
    if (!gi.freeing_by_avail[a].empty()) {
      return PreemptionResult{{}, {*gi.freeing_by_avail[a].begin()}, 1};
    }
  }
  if (tier_limit <= 0) return std::nullopt;

  // 2. Walk victims in loss order, crediting their GPUs to their nodes, until one node has
  // enough.
  if (!gi.preemption_index_built) cluster.BuildPreemptionIndex(group);
  while (gi.victim_cursor < gi.victims.size() && runs[gi.victims[gi.victim_cursor]].freeing) {
    ++gi.victim_cursor;
  }
  absl::flat_hash_map<NodeIdx, std::vector<std::pair<int, int>>> credit;  // node -> (run, gpus)
  absl::flat_hash_map<NodeIdx, int> credited;
  for (size_t i = gi.victim_cursor; i < gi.victims.size(); ++i) {
    const int r = gi.victims[i];
    const RunInfo& ri = runs[r];
    if (ri.tier >= tier_limit) break;  // sorted by tier
    if (ri.freeing) continue;
    for (const auto& [m, mask] : ri.on) {
      if (!alive(m)) continue;
      const int g = Popcount(mask);
      credit[m].emplace_back(r, g);
      const int total = (credited[m] += g);
      if (nodes[m].FreeGpus() + nodes[m].freeing_gpus + total < gpus) continue;
      // Enough on m. Drop the dearest victims that turn out not to be needed.
      std::vector<std::pair<int, int>> vs = credit[m];
      int surplus = nodes[m].FreeGpus() + nodes[m].freeing_gpus + total - gpus;
      PreemptionResult out;
      for (auto it = vs.rbegin(); it != vs.rend(); ++it) {
        if (it != vs.rbegin() && it->second <= surplus) {
          surplus -= it->second;
          continue;
        }
        out.victims.push_back(it->first);
      }
      std::reverse(out.victims.begin(), out.victims.end());
      out.nodes = {m};
      out.not_free_now = 1;
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace hai::policy::internal
