// Placement on free capacity: whole free nodes in the fewest topology domains for gang and
// whole-node tasks, best-fit GPU packing for single-node tasks smaller than a node.
#pragma once

#include <optional>
#include <vector>

#include "scheduler/policy/cluster.h"

namespace hai::policy::internal {

// `count` whole-free unreserved nodes of `group` with >= `min_gpus` GPUs, or nullopt.
// Fewest domains first: the smallest single switch that holds them all; else the smallest
// room that does, filled from its fullest switches; else the fullest rooms and switches.
// Picking the smallest domain that fits keeps big free domains intact for big gangs.
std::optional<std::vector<NodeIdx>> PickWholeNodes(const Cluster& cluster, int group,
                                                   int count, int min_gpus);

// Best fit for `gpus` GPUs on one node: the usable unreserved node already in use with the
// fewest free GPUs that fit; else a whole free node from the domain with the fewest free
// nodes (so whole nodes, and whole switches, stay free for gang tasks). Ties: node name.
std::optional<NodeIdx> PickPackedNode(const Cluster& cluster, int group, int gpus);

// The `count` lowest free GPU indices of a node.
Mask LowestFreeGpus(const NodeInfo& node, int count);

std::vector<int> MaskToGpus(Mask mask);

}  // namespace hai::policy::internal
