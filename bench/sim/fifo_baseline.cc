// Strict FIFO per group (see fifo_baseline.h).
#include "bench/sim/fifo_baseline.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace hai::sim {
namespace {

struct NodeUse {
  const policy::Node* node = nullptr;
  uint64_t used = 0;  // GPU bitmask
  int occupants = 0;
  int Free() const { return node->gpus - std::popcount(used); }
};

std::vector<int> LowestFree(const NodeUse& n, int k, uint64_t* mask) {
  std::vector<int> out;
  for (int g = 0; g < n.node->gpus && static_cast<int>(out.size()) < k; ++g) {
    if ((n.used >> g & 1) == 0) {
      out.push_back(g);
      *mask |= uint64_t{1} << g;
    }
  }
  return out;
}

}  // namespace

policy::Plan FifoDecide(const policy::Snapshot& snapshot) {
  // Per group: its nodes in snapshot order.
  std::vector<NodeUse> nodes(snapshot.nodes.size());
  absl::flat_hash_map<std::string, int> node_index;
  std::map<std::string, std::vector<int>> group_nodes;
  for (size_t i = 0; i < snapshot.nodes.size(); ++i) {
    const policy::Node& n = snapshot.nodes[i];
    nodes[i].node = &n;
    node_index[n.name] = static_cast<int>(i);
    if (n.state == policy::NodeState::kReady && !n.jupyter) {
      group_nodes[n.group].push_back(static_cast<int>(i));
    }
  }
  for (const policy::Task& t : snapshot.running) {
    for (const policy::RankPlacement& p : t.placement) {
      auto it = node_index.find(p.node);
      if (it == node_index.end()) continue;
      NodeUse& n = nodes[it->second];
      ++n.occupants;
      // A whole-node task holds every GPU of its nodes.
      if (t.nodes > 1 || t.gpus_per_node == 0) {
        n.used = n.node->gpus >= 64 ? ~uint64_t{0} : (uint64_t{1} << n.node->gpus) - 1;
      } else {
        for (int g : p.gpus) n.used |= uint64_t{1} << g;
      }
    }
  }

  std::vector<const policy::Task*> queue;
  queue.reserve(snapshot.queued.size());
  for (const policy::Task& t : snapshot.queued) queue.push_back(&t);
  std::sort(queue.begin(), queue.end(), [](const policy::Task* a, const policy::Task* b) {
    return std::tie(a->first_submit, a->attempt_id) < std::tie(b->first_submit, b->attempt_id);
  });

  policy::Plan plan;
  std::map<std::string, bool> blocked;  // group -> its head did not fit
  for (const policy::Task* t : queue) {
    bool& is_blocked = blocked[t->group];
    policy::Pending wait{.attempt_id = t->attempt_id,
                         .reason = policy::PendingReason::kWaitingForNodes,
                         .tier = t->tier};
    if (is_blocked) {
      wait.detail = "behind an earlier task of its group (strict FIFO)";
      plan.pending.push_back(std::move(wait));
      continue;
    }
    const std::vector<int>& candidates = group_nodes[t->group];
    policy::StartDecision start{.attempt_id = t->attempt_id, .tier = t->tier};
    if (t->nodes == 1 && t->gpus_per_node > 0) {
      int best = -1;
      for (int i : candidates) {
        const int free = nodes[i].Free();
        if (free >= t->gpus_per_node && (best < 0 || free < nodes[best].Free())) best = i;
      }
      if (best >= 0) {
        uint64_t mask = 0;
        std::vector<int> gpus = LowestFree(nodes[best], t->gpus_per_node, &mask);
        nodes[best].used |= mask;
        ++nodes[best].occupants;
        start.placement.push_back({nodes[best].node->name, std::move(gpus)});
      }
    } else {
      std::vector<int> picked;
      for (int i : candidates) {
        if (static_cast<int>(picked.size()) == t->nodes) break;
        if (nodes[i].occupants == 0 && nodes[i].node->gpus >= t->gpus_per_node) {
          picked.push_back(i);
        }
      }
      if (static_cast<int>(picked.size()) == t->nodes) {
        for (int i : picked) {
          uint64_t mask = 0;
          std::vector<int> gpus = LowestFree(nodes[i], nodes[i].node->gpus, &mask);
          nodes[i].used |= mask;
          ++nodes[i].occupants;
          start.placement.push_back({nodes[i].node->name, std::move(gpus)});
        }
      }
    }
    if (start.placement.empty()) {
      is_blocked = true;
      wait.detail = "first in its group's FIFO; waits for capacity";
      plan.pending.push_back(std::move(wait));
      continue;
    }
    plan.starts.push_back(std::move(start));
  }
  return plan;
}

}  // namespace hai::sim
