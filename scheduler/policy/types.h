// Value types of the scheduling core: the snapshot it decides over, its configuration and the
// plan it returns. Plain data only: no I/O, no clock, no globals. The daemon builds a Snapshot
// from its in-memory state; the simulator builds one from a trace.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/model/states.h"
#include "common/model/tier.h"

namespace hai::policy {

// Tiers and node states are the task model's (common/model/), shared with every layer.
using model::kAutoPriority;
using model::NodeState;
using model::Tier;

struct Node {
  std::string name;
  std::string group;
  int gpus = 0;
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  std::string room;
  std::string sw;  // switch
  NodeState state = NodeState::kReady;
  bool jupyter = false;  // node of a jupyter group: training never lands here
};

// Where one rank of a task runs.
struct RankPlacement {
  std::string node;
  std::vector<int> gpus;  // GPU indices on that node
};

struct Task {
  int64_t attempt_id = 0;
  int64_t chain_id = 0;
  std::string user;
  int requested_priority = static_cast<int>(Tier::kNormal);  // may be kAutoPriority
  Tier tier = Tier::kNormal;  // running: the tier it runs at; queued: ignored unless fixed
  std::string group;          // node group
  int nodes = 1;
  int gpus_per_node = 0;    // 0 = whole node(s)
  absl::Time first_submit;  // chain's first submit: FIFO key, kept across suspensions
  // The user's estimate of one attempt's running time (hai-cli -t); Infinite: none given.
  // A task with a limit may start on nodes reserved for a waiting task when it would end
  // before that task could start; it is not stopped at its limit, but past it, when a
  // reservation of its tier or above needs its nodes, it is suspended (SuspendKind::kOverLimit).
  absl::Duration time_limit = absl::InfiniteDuration();
  // Running tasks only:
  absl::Time running_since;  // start of the current attempt
  std::vector<RankPlacement> placement;
  bool suspend_requested = false;  // victim already told; its nodes will free up
  // Queued tasks only:
  bool held = false;  // held by its user: never started, reported kHeld
  // Nodes the previous plan held for this task as a preemptor (its Pending.reserved_nodes
  // while WAITING_FOR_PREEMPTION; leave empty otherwise). Decide keeps them for it against
  // every other task, also those ahead of it in the queue, until it starts or stops
  // qualifying: without this, once its victims stop, their nodes look free to whoever
  // comes first, and the victims were suspended for nothing (thrash).
  std::vector<std::string> reserved_nodes;
};

// Effective per-user quota: nodes a user's tasks of `tier` may hold in `group`.
struct QuotaKey {
  std::string user;
  std::string group;
  Tier tier;
  auto operator<=>(const QuotaKey&) const = default;
};

struct Snapshot {
  std::vector<Node> nodes;
  std::vector<Task> running;  // includes starting/scheduled attempts holding nodes
  std::vector<Task> queued;
  // Resolved quotas (user > group > public already applied by the caller; see quota.h).
  std::map<QuotaKey, int64_t> quota;
};

struct PolicyConfig {
  bool preemption = true;
  // Suspend the youngest running tasks of an owner whose quota was lowered below what they
  // hold (over_quota.h; Plan::suspends of kind kOverQuota); otherwise a lowered quota only
  // stops new starts.
  bool suspend_over_quota = false;
  // ABOVE_NORMAL tasks run as NORMAL once they have run this long (HAI rule).
  absl::Duration above_normal_demote_after = absl::Minutes(30);
  // A running task younger than this (per tier of the victim) is never suspended.
  std::map<Tier, absl::Duration> min_runtime;
  absl::Duration default_min_runtime = absl::ZeroDuration();
};

enum class PendingReason {
  kOutOfQuota,            // the user's quota for this tier/group is in use
  kWaitingForNodes,       // not enough free nodes/GPUs (missing_nodes says how many)
  kBlockedByReservation,  // nodes are reserved for an earlier task of the same or higher tier
  kNoSuchGroup,           // no node belongs to the group
  kNeverFits,             // larger than the group or the quota can ever be
  kWaitingForPreemption,  // victims are being suspended for this task
  kHeld,                  // held (suspended by the user)
};

struct StartDecision {
  int64_t attempt_id = 0;
  Tier tier = Tier::kNormal;             // resolved tier (AUTO -> concrete)
  std::vector<RankPlacement> placement;  // one entry per rank, rank order
};

// Why Decide tells a running task to suspend. Both kinds are applied alike (suspend
// request, checkpoint, requeue keeping the chain's first-submit time); the kind tells the
// caller who asked, for its records.
enum class SuspendKind {
  kPreemption,  // its nodes go to preemptor_attempt_id, a waiting task of a higher tier
  kOverQuota,   // its owner holds more than a lowered quota (PolicyConfig::suspend_over_quota)
  // It has run past its time limit on nodes reserved for preemptor_attempt_id, a waiting
  // task of the same or a higher tier that could start at once without it.
  kOverLimit,
};

struct SuspendDecision {
  int64_t victim_attempt_id = 0;
  int64_t preemptor_attempt_id = 0;  // kPreemption and kOverLimit; 0 for kOverQuota
  std::string reason;
  SuspendKind kind = SuspendKind::kPreemption;
};

struct Demotion {
  int64_t attempt_id = 0;
  Tier from = Tier::kAboveNormal;
  Tier to = Tier::kNormal;
};

// The numbers a waiting task's one-line explanation is made of. Decide records them and
// PendingDetail (pending_detail.h) writes the line when someone asks: a pass over 100,000
// waiting tasks must not build (and the next pass free) 100,000 strings.
struct PendingFacts {
  // What the task asks for.
  int nodes = 0;
  int gpus_per_node = 0;
  bool packed = false;  // single node, some GPUs: packed beside others
  // kNeverFits: nodes of the group with enough GPUs; or, when quota >= 0, the quota that
  // is too small.
  int fitting = 0;
  // kNeverFits (quota) and kOutOfQuota: the quota and what the user already holds.
  int64_t quota = -1;
  int64_t used = 0;
  // Waiting for nodes: free whole nodes now, or the most free GPUs on one node (packed);
  // blocked: capacity exists but is held for an earlier task.
  int free_now = 0;
  bool blocked = false;
  // Waiting for preemption: victims told to suspend (0: only waiting for earlier ones).
  int victims = 0;
  // First in line at its tier: kHeldForIt = head_nodes held for it; kTooFewReady = only
  // head_nodes of the group are ready; kBehindReservations = only head_nodes are ready and
  // not held for a task ahead of it, too few to hold any for it (it would only keep them idle).
  enum class Head { kNone, kHeldForIt, kTooFewReady, kBehindReservations };
  Head head = Head::kNone;
  int head_nodes = 0;
};

struct Pending {
  int64_t attempt_id = 0;
  size_t queued_index = 0;  // the task's index in Snapshot::queued (saves callers a lookup)
  PendingReason reason = PendingReason::kWaitingForNodes;
  int missing_nodes = 0;
  int position_in_tier = 0;  // 1-based
  PendingFacts facts;
  // A ready-made line instead of one from `facts` (other policies, e.g. the simulator's
  // FIFO baseline); Decide leaves it empty. Read it through PendingDetail.
  std::string detail;
  Tier tier = Tier::kNormal;  // effective tier the task waits at (AUTO resolved)
  // Nodes held for this task in this decision (preemption target or head-of-tier
  // reservation): no task behind it in queue order was placed on them. Tasks ahead of it
  // may share them (started earlier in the same pass, or running): a whole-node head
  // waits for them to drain; a GPU-packed holder's GPUs are free once its victims stop.
  // Nodes held for a gang preemptor receive no start at all. Sorted by name.
  std::vector<std::string> reserved_nodes;
  // A head-of-tier reservation: when the task can start on reserved_nodes, judged by the
  // time limits of the tasks on them (InfiniteFuture when one has none). Only tasks that end
  // by then (by their own limit) start on those nodes behind it: EASY backfill.
  absl::Time reserved_start = absl::InfiniteFuture();
};

struct Plan {
  std::vector<StartDecision> starts;
  // Over-quota suspensions first (by victim attempt id), then preemptions in queue order of
  // their preemptors. A task appears at most once.
  std::vector<SuspendDecision> suspends;
  std::vector<Demotion> demotions;
  std::vector<Pending> pending;
};

}  // namespace hai::policy
