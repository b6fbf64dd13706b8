// Builds and mutates the in-pass cluster view (see cluster.h for the index invariants).
#include "scheduler/policy/cluster.h"

#include <algorithm>
#include <map>

#include "scheduler/policy/rules.h"

namespace hai::policy::internal {
namespace {

// Free plus freeing GPUs of a node, as an index into GroupInfo::freeing_by_avail.
size_t Avail(const NodeInfo& ni) {
  return static_cast<size_t>(std::clamp(ni.FreeGpus() + ni.freeing_gpus, 0, ni.gpus));
}

Mask AllGpus(int gpus) {
  if (gpus <= 0) return 0;
  if (gpus >= 64) return ~Mask{0};
  return (Mask{1} << gpus) - 1;
}

}  // namespace

int GroupInfo::NodesWithGpus(int gpus) const {
  return static_cast<int>(gpus_sorted.end() -
                          std::lower_bound(gpus_sorted.begin(), gpus_sorted.end(), gpus));
}

int GroupInfo::UsableWithGpus(int gpus) const {
  return static_cast<int>(usable_gpus_sorted.end() - std::lower_bound(usable_gpus_sorted.begin(),
                                                                      usable_gpus_sorted.end(),
                                                                      gpus));
}

int GroupInfo::ReservedWithGpus(int gpus) const {
  int count = 0;
  for (size_t g = std::max(gpus, 0); g < reserved_by_gpus.size(); ++g) {
    count += reserved_by_gpus[g];
  }
  return count;
}

Cluster::Cluster(const Snapshot& snapshot, const PolicyConfig& config, absl::Time now,
                 std::vector<Demotion>* demotions)
    : now_(now) {
  // Nodes in name order, so node index order is name order and ties break by name.
  std::vector<const Node*> by_name;
  by_name.reserve(snapshot.nodes.size());
  for (const Node& n : snapshot.nodes) by_name.push_back(&n);
  std::sort(by_name.begin(), by_name.end(),
            [](const Node* a, const Node* b) { return a->name < b->name; });
  by_name.erase(std::unique(by_name.begin(), by_name.end(),
                            [](const Node* a, const Node* b) { return a->name == b->name; }),
                by_name.end());

  absl::flat_hash_map<absl::string_view, NodeIdx>& index = node_ids_;
  index.reserve(by_name.size());
  nodes_.resize(by_name.size());
  std::vector<std::map<std::pair<std::string_view, std::string_view>, int>> domain_ids;
  std::vector<std::map<std::string_view, int>> room_ids;
  for (size_t i = 0; i < by_name.size(); ++i) {
    const Node& n = *by_name[i];
    NodeInfo& ni = nodes_[i];
    ni.node = &n;
    ni.gpus = std::clamp(n.gpus, 0, 64);
    ni.all = AllGpus(ni.gpus);
    index.emplace(n.name, static_cast<NodeIdx>(i));
    if (n.jupyter) continue;
    auto [it, inserted] = group_ids_.emplace(n.group, static_cast<int>(groups_.size()));
    if (inserted) {
      groups_.emplace_back().name = n.group;
      domain_ids.emplace_back();
      room_ids.emplace_back();
    }
    const int g = it->second;
    GroupInfo& gi = groups_[g];
    ni.group = g;
    gi.nodes.push_back(static_cast<NodeIdx>(i));
    gi.gpus_sorted.push_back(ni.gpus);
    ni.usable = n.state == NodeState::kReady;
    if (!ni.usable) continue;
    auto [room, room_new] = room_ids[g].emplace(n.room, gi.rooms);
    if (room_new) ++gi.rooms;
    auto [dom, dom_new] =
        domain_ids[g].emplace(std::make_pair(std::string_view(n.room), std::string_view(n.sw)),
                              static_cast<int>(gi.domains.size()));
    if (dom_new) {
      Domain& d = gi.domains.emplace_back();
      d.room = n.room;
      d.sw = n.sw;
      d.room_id = room->second;
    }
    ni.domain = dom->second;
    gi.min_usable_gpus = gi.usable_nodes == 0 ? ni.gpus : std::min(gi.min_usable_gpus, ni.gpus);
    gi.max_usable_gpus = std::max(gi.max_usable_gpus, ni.gpus);
    ++gi.usable_nodes;
  }
  for (GroupInfo& gi : groups_) {
    std::sort(gi.gpus_sorted.begin(), gi.gpus_sorted.end());
    for (NodeIdx n : gi.nodes) {
      if (nodes_[n].usable) gi.usable_gpus_sorted.push_back(nodes_[n].gpus);
    }
    std::sort(gi.usable_gpus_sorted.begin(), gi.usable_gpus_sorted.end());
    gi.partial.resize(gi.max_usable_gpus + 1);
    gi.reserved_by_gpus.assign(gi.max_usable_gpus + 1, 0);
    gi.freeing_by_avail.resize(gi.max_usable_gpus + 1);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) Attach(static_cast<NodeIdx>(i));

  // Running tasks by attempt id: every later walk over them is then input-order independent.
  std::vector<const Task*> running;
  running.reserve(snapshot.running.size());
  for (const Task& t : snapshot.running) running.push_back(&t);
  std::sort(running.begin(), running.end(),
            [](const Task* a, const Task* b) { return a->attempt_id < b->attempt_id; });
  runs_.resize(running.size());
  for (size_t r = 0; r < running.size(); ++r) {
    const Task& t = *running[r];
    RunInfo& ri = runs_[r];
    ri.task = &t;
    const Tier tier = EffectiveTier(t, config, now);
    if (tier != t.tier) demotions->push_back({t.attempt_id, t.tier, tier});
    ri.tier = static_cast<int>(tier);
    ri.freeing = t.suspend_requested;
    ri.protect = now < ProtectedUntil(t, config, now);
    ri.end = LimitEnd(t);
    // Multi-node and whole-node tasks hold their nodes exclusively, whatever GPUs they list.
    const bool exclusive = t.nodes > 1 || t.gpus_per_node == 0;
    for (const RankPlacement& p : t.placement) {
      auto it = index.find(p.node);
      if (it == index.end()) continue;  // node gone from the snapshot: nothing to book
      NodeInfo& ni = nodes_[it->second];
      Mask mask = 0;
      if (exclusive || p.gpus.empty()) {
        mask = ni.all;
      } else {
        for (int gpu : p.gpus) {
          if (gpu >= 0 && gpu < ni.gpus) mask |= Mask{1} << gpu;
        }
      }
      // Two ranks of one task on one node: merge them.
      auto same = std::find_if(ri.on.begin(), ri.on.end(),
                               [&](const auto& e) { return e.first == it->second; });
      if (same != ri.on.end()) {
        same->second |= mask;
        continue;
      }
      ri.on.emplace_back(it->second, mask);
    }
    ri.multi = ri.on.size() > 1;
    for (auto& [n, mask] : ri.on) {
      nodes_[n].running.push_back(static_cast<int>(r));
      Occupy(n, mask, /*new_start=*/false);
      if (ri.freeing) {
        Detach(n);
        NodeInfo& ni = nodes_[n];
        ++ni.freeing_occupants;
        ni.freeing_gpus += Popcount(mask);
        Attach(n);
      }
    }
  }
}

NodeIdx Cluster::NodeId(std::string_view name) const {
  auto it = node_ids_.find(Av(name));
  return it == node_ids_.end() ? -1 : it->second;
}

int Cluster::GroupId(std::string_view name) const {
  auto it = group_ids_.find(Av(name));
  return it == group_ids_.end() ? -1 : it->second;
}

void Cluster::Detach(NodeIdx n) {
  NodeInfo& ni = nodes_[n];
  if (!ni.usable || ni.reserved || ni.group < 0) return;
  GroupInfo& gi = groups_[ni.group];
  if (ni.occupants == 0) {
    gi.domains[ni.domain].free.erase(n);
    --gi.free_whole;
  } else {
    gi.partial[std::max(ni.FreeGpus(), 0)].erase(n);
  }
  if (ni.freeing_occupants > 0) gi.freeing_by_avail[Avail(ni)].erase(n);
}

void Cluster::Attach(NodeIdx n) {
  NodeInfo& ni = nodes_[n];
  if (!ni.usable || ni.reserved || ni.group < 0) return;
  GroupInfo& gi = groups_[ni.group];
  if (ni.occupants == 0) {
    gi.domains[ni.domain].free.insert(n);
    ++gi.free_whole;
  } else {
    gi.partial[std::max(ni.FreeGpus(), 0)].insert(n);
  }
  if (ni.freeing_occupants > 0) gi.freeing_by_avail[Avail(ni)].insert(n);
}

int Cluster::CountFreeWhole(int group, int gpus) const {
  const GroupInfo& gi = groups_[group];
  if (gpus <= gi.min_usable_gpus) return gi.free_whole;
  int count = 0;  // mixed node sizes: count only the big-enough ones
  for (const Domain& d : gi.domains) {
    for (NodeIdx n : d.free) count += nodes_[n].gpus >= gpus ? 1 : 0;
  }
  return count;
}

void Cluster::Occupy(NodeIdx n, Mask mask, bool new_start) {
  Detach(n);
  NodeInfo& ni = nodes_[n];
  ni.used |= mask;
  ++ni.occupants;
  ni.started_here |= new_start;
  Attach(n);
}

void Cluster::Reserve(NodeIdx n) {
  if (nodes_[n].reserved) return;  // counted once
  Detach(n);
  NodeInfo& ni = nodes_[n];
  ni.reserved = true;
  if (ni.group >= 0 && ni.usable) {
    GroupInfo& gi = groups_[ni.group];
    if (ni.occupants == 0) ++gi.reserved_free_whole;
    gi.reserved_max_free = std::max(gi.reserved_max_free, ni.FreeGpus());
    ++gi.reserved_by_gpus[ni.gpus];
  }
}

void Cluster::Hold(NodeIdx n, int64_t attempt) {
  if (nodes_[n].reserved) return;
  Reserve(n);
  nodes_[n].hold_for = attempt;
}

void Cluster::ReleaseHold(NodeIdx n) {
  if (!nodes_[n].reserved || nodes_[n].hold_for == 0) return;
  Unreserve(n);
}

void Cluster::Unreserve(NodeIdx n) {
  NodeInfo& ni = nodes_[n];
  if (!ni.reserved) return;
  ni.reserved = false;
  ni.hold_for = 0;
  if (ni.group >= 0 && ni.usable) {
    GroupInfo& gi = groups_[ni.group];
    if (ni.occupants == 0) --gi.reserved_free_whole;
    --gi.reserved_by_gpus[ni.gpus];
    // reserved_max_free stays an upper bound: it only labels BLOCKED_BY_RESERVATION.
  }
  Attach(n);
}

void Cluster::MarkFreeing(int run) {
  RunInfo& ri = runs_[run];
  if (ri.freeing) return;
  ri.freeing = true;
  for (auto& [n, mask] : ri.on) {
    Detach(n);
    NodeInfo& ni = nodes_[n];
    ++ni.freeing_occupants;
    ni.freeing_gpus += Popcount(mask);
    Attach(n);
  }
}

void Cluster::BuildPreemptionIndex(int group) {
  GroupInfo& gi = groups_[group];
  gi.preemption_index_built = true;
  // Whole-node candidates: busy usable nodes whose every non-freeing occupant may be
  // suspended (none protected). Cheapest first: lowest top tier, then least run time lost.
  for (NodeIdx n : gi.nodes) {
    const NodeInfo& ni = nodes_[n];
    // Carried-over holds are released at their holder's turn: keep them as candidates.
    if (!ni.usable || (ni.reserved && ni.hold_for == 0) || ni.started_here || ni.occupants == 0) {
      continue;
    }
    int max_tier = -1;
    int64_t secs = 0;
    bool ok = true;
    for (int r : ni.running) {
      const RunInfo& ri = runs_[r];
      if (ri.freeing) continue;
      if (ri.protect) {
        ok = false;
        break;
      }
      max_tier = std::max(max_tier, ri.tier);
      secs += absl::ToInt64Seconds(now_ - ri.task->running_since);
    }
    if (ok) gi.clear.push_back({max_tier, secs, n});
  }
  std::sort(gi.clear.begin(), gi.clear.end());
  // GPU-packing victims (and the order whole-node victims are named in): lowest tier,
  // single-node before gang tasks, shortest run since last start, then attempt id.
  std::vector<int> all;
  for (NodeIdx n : gi.nodes) {
    for (int r : nodes_[n].running) {
      const RunInfo& ri = runs_[r];
      if (!ri.freeing && !ri.protect) all.push_back(r);
    }
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  std::sort(all.begin(), all.end(), [&](int a, int b) {
    const RunInfo& x = runs_[a];
    const RunInfo& y = runs_[b];
    if (x.tier != y.tier) return x.tier < y.tier;
    if (x.multi != y.multi) return !x.multi;
    if (x.task->running_since != y.task->running_since) {
      return x.task->running_since > y.task->running_since;
    }
    return x.task->attempt_id < y.task->attempt_id;
  });
  gi.victims = std::move(all);
}

}  // namespace hai::policy::internal
