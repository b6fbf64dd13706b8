// The mutable in-pass view of the cluster that Decide works on: nodes indexed by group and
// topology domain, GPU occupancy, which tasks sit where, and the reservations made so far in
// this pass. Built once per Decide from the Snapshot; internal to the policy library.
//
// Index invariants (kept by Detach/Attach around every mutation), per group:
//  - domains[d].free holds the usable, unreserved nodes with no task on them ("whole free");
//  - partial[f] holds the usable, unreserved nodes with tasks on them and f free GPUs;
//  - freeing_by_avail[a] holds the usable, unreserved nodes with freeing occupants and a
//    free + freeing GPUs (such a node is in free/partial too);
//  - reserved and unusable nodes are in none of them.
// So "find free capacity" is a walk over a few small ordered sets, never over all nodes.
#pragma once

#include <bit>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "scheduler/policy/sv.h"
#include "scheduler/policy/types.h"

namespace hai::policy::internal {

using NodeIdx = int;
using Mask = uint64_t;  // GPU bitmask; nodes are assumed to have at most 64 GPUs

inline int Popcount(Mask m) { return std::popcount(m); }

// A running task as Decide sees it.
struct RunInfo {
  const Task* task = nullptr;
  int tier = 0;            // effective tier value (after ABOVE_NORMAL demotion)
  bool freeing = false;    // suspend requested (before or in this pass): its GPUs will free
  bool protect = false;    // inside its minimum runtime: never a victim
  bool multi = false;      // holds more than one node
  absl::Time end;          // rules.h LimitEnd: InfiniteFuture without a time limit
  std::vector<std::pair<NodeIdx, Mask>> on;  // nodes of the snapshot it holds, with GPUs
};

struct NodeInfo {
  const Node* node = nullptr;
  int group = -1;       // -1: jupyter node, never used by training
  int domain = 0;       // index into its group's domains
  bool usable = false;  // ready and not jupyter: new work may land here
  int gpus = 0;
  Mask all = 0;
  Mask used = 0;              // GPUs held by running tasks (incl. freeing) and new starts
  int occupants = 0;          // tasks on the node, incl. freeing ones and new starts
  int freeing_occupants = 0;
  int freeing_gpus = 0;       // GPUs of freeing occupants: free once they stop
  bool reserved = false;      // held for a preemptor or a head-of-tier task in this pass
  int64_t hold_for = 0;       // != 0: reserved as a carried-over hold for this attempt
  bool started_here = false;  // a task was started here in this pass
  // Latest limit end of the tasks started here in this pass (InfiniteFuture: one has no
  // limit); InfinitePast when none started here.
  absl::Time started_until = absl::InfinitePast();
  std::vector<int> running;   // RunInfo indices of snapshot tasks on this node

  int FreeGpus() const { return gpus - Popcount(used); }
  int Blockers() const { return occupants - freeing_occupants; }
};

// A topology domain: one switch in one room.
struct Domain {
  std::string room;
  std::string sw;
  int room_id = 0;
  std::set<NodeIdx> free;  // whole-free usable unreserved nodes, by index (= name order)
};

// Candidate node for whole-node preemption, sorted by what clearing it costs.
struct ClearCandidate {
  int max_tier;      // highest tier among non-freeing occupants; -1 if only freeing ones
  int64_t run_secs;  // run time those occupants would lose
  NodeIdx node;
  auto operator<=>(const ClearCandidate&) const = default;
};

struct GroupInfo {
  std::string name;
  std::vector<NodeIdx> nodes;      // every training node of the group, any state
  std::vector<int> gpus_sorted;    // GPUs of those nodes, ascending (admission counts)
  int usable_nodes = 0;
  int min_usable_gpus = 0;
  int max_usable_gpus = 0;
  std::vector<Domain> domains;
  int rooms = 0;
  int free_whole = 0;                     // sum of domains[].free sizes
  std::vector<std::set<NodeIdx>> partial; // by free GPUs, 0..max_usable_gpus
  std::vector<std::set<NodeIdx>> freeing_by_avail;  // see the index invariants above
  int reserved_free_whole = 0;            // reserved nodes that are whole free
  int reserved_max_free = 0;              // most free GPUs on a reserved node
  std::vector<int> usable_gpus_sorted;    // GPUs of usable nodes, ascending
  std::vector<int> reserved_by_gpus;      // reserved usable nodes by GPU count

  // Usable nodes with at least `gpus` GPUs, and how many of those are reserved.
  int UsableWithGpus(int gpus) const;
  int ReservedWithGpus(int gpus) const;

  // Preemption indexes, built on first use (most passes never preempt).
  bool preemption_index_built = false;
  std::vector<ClearCandidate> clear;  // sorted; cursor skips entries dead for this pass
  size_t clear_cursor = 0;
  std::vector<int> victims;           // RunInfo indices in loss order
  size_t victim_cursor = 0;

  // Nodes of the group (any state) with at least `gpus` GPUs.
  int NodesWithGpus(int gpus) const;
};

class Cluster {
 public:
  // Indexes the snapshot; `demotions` receives ABOVE_NORMAL -> NORMAL demotions.
  Cluster(const Snapshot& snapshot, const PolicyConfig& config, absl::Time now,
          std::vector<Demotion>* demotions);

  // Group id by name, -1 when no training node has that group.
  int GroupId(std::string_view name) const;
  // Node index by name, -1 when the snapshot has no such node.
  NodeIdx NodeId(std::string_view name) const;

  std::vector<NodeInfo>& nodes() { return nodes_; }
  const std::vector<NodeInfo>& nodes() const { return nodes_; }
  std::vector<GroupInfo>& groups() { return groups_; }
  const std::vector<GroupInfo>& groups() const { return groups_; }
  std::vector<RunInfo>& runs() { return runs_; }
  const std::vector<RunInfo>& runs() const { return runs_; }
  absl::Time now() const { return now_; }

  // Whole-free unreserved nodes of `group` with at least `gpus` GPUs.
  int CountFreeWhole(int group, int gpus) const;

  // Mutations; each keeps the group indexes consistent.
  void Occupy(NodeIdx n, Mask mask, bool new_start);
  void Reserve(NodeIdx n);
  // Carried-over preemption holds (Task::reserved_nodes): reserved until the holder's turn.
  void Hold(NodeIdx n, int64_t attempt);
  void ReleaseHold(NodeIdx n);
  // Undoes Reserve of a head-of-tier reservation while a backfill candidate is placed.
  void Unreserve(NodeIdx n);
  void MarkFreeing(int run);

  // Builds GroupInfo::clear and ::victims for `group` from the current state.
  void BuildPreemptionIndex(int group);

 private:
  void Detach(NodeIdx n);
  void Attach(NodeIdx n);

  absl::Time now_;
  std::vector<NodeInfo> nodes_;
  std::vector<GroupInfo> groups_;
  std::vector<RunInfo> runs_;
  absl::flat_hash_map<std::string, int> group_ids_;
  absl::flat_hash_map<absl::string_view, NodeIdx> node_ids_;  // views into the snapshot
};

}  // namespace hai::policy::internal
