// GPU-time accounting: turns a history (node state spans and the GPUs each attempt's ranks
// held) and a window into GPU-time allocated, lost to preemption, idle and unavailable.
// Pure: no I/O, no clock, no globals; links abseil only. docs/usage.md defines every figure.
//
// Units are GPU-microseconds (int64): Postgres timestamps are microseconds, so every figure
// is exact and the conservation law holds with equality, per node and in every grouping:
//   allocated + idle + unavailable = sum over the node's spans of GPUs x time (its capacity).
//
// Rules, in the order they are applied:
//  1. A node exists only inside its spans; outside them it has no capacity and nothing on it
//     counts (a rank placed on a node that does not exist then is dropped, not invented).
//  2. GPU g of a node exists while the span's gpu count is > g; a rank's GPU index past the
//     count counts nothing.
//  3. Each GPU at each instant is allocated to at most one rank: if two recorded holders
//     overlap (the history says a GPU was handed out twice), the one that started first keeps
//     the overlap, so nothing is counted twice.
//  4. Allocated time wins over the node's state: a GPU held on a cordoned or draining node is
//     allocated. Idle = ready and not allocated; unavailable = not ready and not allocated.
//  5. Lost to preemption is part of allocated: the grace (from the preemption notice to the
//     attempt's end) and the restart (an attempt following a preempted one, from its
//     placement until all its ranks run).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace hai::usage {

using Micros = int64_t;  // microseconds since the Unix epoch, or a duration

enum class Availability { kReady, kUnavailable };

// A node as it was over [from, to): its group, GPU count and whether it took work.
struct NodeSpan {
  Micros from = 0;
  Micros to = 0;
  int gpus = 0;
  Availability availability = Availability::kReady;
  int32_t node_group = 0;  // index into History::node_groups
};

struct NodeHistory {
  std::string name;
  std::vector<NodeSpan> spans;  // sorted by from, not overlapping
};

// Who GPU-time is charged to.
struct Owner {
  std::string user;
  std::string group;  // the user's group (docs/usage.md: the primary one)
  int tier = 0;
};

// One rank of one attempt: the GPUs it held on one node.
struct RankHold {
  int32_t node = 0;       // index into History::nodes
  int32_t owner = 0;      // index into History::owners
  uint64_t gpus = 0;      // bit g set: GPU index g (hosts.gpus is at most 64)
  Micros start = 0;       // the attempt was placed (scheduled_at)
  Micros end = 0;         // the attempt ended (or "now" for one still holding)
  Micros running = 0;     // every rank ran (started_at); end when it never did
  Micros grace_from = 0;  // preemption notice; end when there was none
  bool restart = false;   // follows a preempted attempt of the same chain
};

struct History {
  std::vector<std::string> node_groups;
  std::vector<NodeHistory> nodes;
  std::vector<Owner> owners;
  std::vector<RankHold> holds;
};

// GPU-microseconds of one cell.
struct Figures {
  int64_t allocated = 0;
  int64_t lost_to_preemption = 0;  // part of allocated
  int64_t idle = 0;
  int64_t unavailable = 0;
  Figures& operator+=(const Figures& o) {
    allocated += o.allocated;
    lost_to_preemption += o.lost_to_preemption;
    idle += o.idle;
    unavailable += o.unavailable;
    return *this;
  }
  bool operator==(const Figures&) const = default;
};

// Key of the finest cell the accounting keeps: an owner (or kUnallocated for the idle and
// unavailable time, which belongs to nobody) on a node group.
inline constexpr int32_t kUnallocated = -1;
struct CellKey {
  int64_t bucket = 0;  // index of the bucket within the window
  int32_t owner = kUnallocated;
  int32_t node_group = 0;
  bool operator==(const CellKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const CellKey& k) {
    return H::combine(std::move(h), k.bucket, k.owner, k.node_group);
  }
};

struct Window {
  Micros since = 0;
  Micros until = 0;
  Micros bucket = 0;  // bucket length; 0 = one bucket for the whole window
};

struct Accounting {
  // Owner cells carry allocated and lost; kUnallocated cells carry idle and unavailable.
  absl::flat_hash_map<CellKey, Figures> cells;
  // Per node over the whole window (indices of History::nodes): the conservation law.
  std::vector<Figures> per_node;
  std::vector<int64_t> capacity_per_node;  // GPU-microseconds the node's spans offer
};

// InvalidArgument for an empty or reversed window, a bucket that does not divide it, or a
// history whose indices or spans are malformed.
absl::StatusOr<Accounting> Account(const History& history, const Window& window);

// One cell with names instead of indices: what the hourly rollups store, and what reports
// add up (rollups of whole hours plus the exact edges).
struct LedgerRow {
  std::string node_group;
  std::string user;   // empty for the unallocated row of the node group
  std::string group;  // empty for the unallocated row
  int tier = -1;      // -1 for the unallocated row
  Figures figures;
};
// The cells of one bucket (every bucket summed when bucket < 0).
std::vector<LedgerRow> ToLedger(const Accounting& accounting, const History& history,
                                int64_t bucket = -1);

// How a report groups its rows.
enum class GroupBy { kUser, kGroup, kTier, kNodeGroup };
absl::StatusOr<GroupBy> ParseGroupBy(std::string_view name);  // user|group|tier|node-group
std::string_view Name(GroupBy by);

struct Row {
  std::string key;
  Figures figures;
};
// Rows sorted by key. For user, group and tier the idle and unavailable time is one row keyed
// kUnallocatedKey, so every grouping sums to the same capacity; tiers are keyed by name.
inline constexpr std::string_view kUnallocatedKey = "(unallocated)";
std::vector<Row> Group(const std::vector<LedgerRow>& ledger, GroupBy by);

}  // namespace hai::usage
