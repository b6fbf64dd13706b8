// The trace replay: a discrete-event simulation of a GPU cluster in virtual seconds whose
// scheduling decisions come from a Policy (the real hai::policy::Decide, or the strict FIFO
// baseline of fifo_baseline.h). It owns what the daemon owns in real life: which attempts run
// where, when they finish, suspensions (preemption and over-quota) taking effect, requeueing
// with the same first-submit time, the carried-over preemption holds, and the accounting of
// lost work. The state of each group and the application of a plan to it are SimCluster's
// (sim_cluster.h), shared with the policy tests' Simulator; this file adds the events, the
// cost model's timing, queue pruning and the figures.
//
// Model (docs/simulation.md has the long form):
//  - a job needs duration_s seconds of productive running on its GPUs; its shape is `nodes`
//    x `gpus_per_node` (0 = whole nodes), fixed at load;
//  - decisions are taken per node group (groups share nothing in the policy: quotas, nodes
//    and queues are per group), at every virtual instant where something changed in that
//    group, rounded up to a multiple of SimConfig::interval_s when that is > 0;
//  - a suspended attempt keeps its GPUs for suspend_grace_s, then stops; the work since its
//    last checkpoint (every checkpoint_interval_s of productive time; 0 = it checkpoints on
//    the notice and loses nothing) is lost, and the next attempt first spends
//    restart_overhead_s reloading; lost GPU-seconds = allocated GPUs x attempt time that did
//    not become saved progress, plus the restart overhead of resumed attempts;
//  - GPU utilisation counts GPUs held by attempts (whole nodes for multi-node jobs, also
//    while a victim checkpoints); waiting GPUs count what queued jobs would hold.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/sim/trace.h"
#include "scheduler/policy/types.h"

namespace hai::sim {

// A job ready to replay: shape and tier resolved.
struct SimJob {
  std::string id;
  std::string user;
  std::string group;
  int64_t submit_s = 0;
  int64_t duration_s = 0;
  int gpus = 0;  // as the trace asked (statistics only)
  int nodes = 1;
  int gpus_per_node = 0;  // 0 = whole nodes
  policy::Tier tier = policy::Tier::kNormal;
  int64_t time_limit_s = 0;  // the limit its user gave (Task::time_limit); 0: none
};

enum class PolicyKind {
  kFifo,          // strict FIFO per group, no backfill, no preemption (fifo_baseline.h)
  kHai,           // policy::Decide with preemption
  kHaiNoPreempt,  // policy::Decide with preemption off (tiers, backfill, reservations)
};
absl::string_view PolicyName(PolicyKind kind);
absl::StatusOr<PolicyKind> ParsePolicy(absl::string_view name);

struct CostModel {
  int64_t suspend_grace_s = 30;       // notice -> GPUs released
  int64_t checkpoint_interval_s = 0;  // 0: checkpoint on notice (nothing lost)
  int64_t restart_overhead_s = 60;    // a resumed attempt's reload time
};

struct SimConfig {
  PolicyKind policy = PolicyKind::kHai;
  policy::PolicyConfig policy_config;  // preemption is forced by `policy`
  CostModel cost;
  // > 0: decisions only at multiples of this many virtual seconds (events in between wait
  // for the next tick, like a periodic scheduler); 0: at every instant something changed.
  int64_t interval_s = 0;
  // Pass Decide only the queued tasks that could possibly start or preempt in this pass
  // (replay.cc explains why this leaves the plan's starts and suspensions unchanged); off
  // gives every queued task to every pass (slow; used by tests to prove the equivalence).
  bool prune_queue = true;
  int64_t util_bucket_s = 3600;
  // Called with every snapshot and the plan decided for it (tests check invariants).
  std::function<void(const policy::Snapshot&, const policy::Plan&, absl::Time)> observer;
};

struct JobOutcome {
  bool rejected = false;  // can never run on this cluster with these quotas
  std::string reject_reason;
  int64_t first_start_s = -1;
  int64_t finish_s = -1;
  int suspensions = 0;  // suspensions that took effect
  int64_t lost_gpu_s = 0;
  int gpus_allocated = 0;  // GPUs held while running (whole nodes for gangs)
};

struct SimResult {
  PolicyKind policy = PolicyKind::kHai;
  std::vector<JobOutcome> jobs;  // same order as the input jobs
  int64_t total_gpus = 0;
  int64_t start_s = 0;               // first submit
  int64_t end_s = 0;                 // last finish (makespan end)
  int64_t window_end_s = 0;          // last submit
  double window_utilisation = 0;     // GPU-time held / capacity over [start_s, window_end_s]
  double makespan_utilisation = 0;   // same over [start_s, end_s]
  std::vector<double> utilisation;   // per util_bucket_s from start_s: mean held fraction
  std::vector<double> waiting_gpus;  // same buckets: mean GPUs the queued jobs would hold
  int64_t util_bucket_s = 3600;
  // GPU-seconds left idle in a group while its queue was not empty (whoever waited could not
  // use them: reserved, fragmented, or too few for the waiting shapes), and the part of
  // them on nodes the policy's last plan held (head-of-tier reservations and preemption
  // holds: Pending::reserved_nodes).
  double idle_waiting_gpu_s = 0;
  double reserved_idle_gpu_s = 0;
  int64_t decide_calls = 0;
  int64_t queued_passed = 0;  // queued tasks handed to the policy, summed over calls
  // Suspensions of tasks over their owner's quota (PolicyConfig::suspend_over_quota: an
  // ABOVE_NORMAL task demoted beyond the NORMAL quota); JobOutcome::suspensions counts
  // them with the preemptions once they take effect.
  int64_t over_quota_suspensions = 0;
  double wall_s = 0;
  double cpu_s = 0;
};

// Turns trace jobs into SimJobs on `groups`: resolves the shape (nodes = num_nodes, or
// ceil(gpus / GPUs per node of the job's group); single-node jobs pack their GPUs,
// multi-node jobs take whole nodes) and the tier (`tiers[i]`). InvalidArgument when a job
// names a group the cluster lacks.
absl::StatusOr<std::vector<SimJob>> BuildJobs(const std::vector<TraceJob>& trace,
                                              const std::vector<GroupSpec>& groups,
                                              const std::vector<policy::Tier>& tiers);

// Sets every job's time limit: kNone clears them; kRoundUp gives each job its duration
// rounded up to a multiple of `round_s` (a user who knows a job's length to the hour);
// kTrace keeps what the trace said (time_limit_s column).
enum class LimitMode { kTrace, kNone, kRoundUp };
void AssignLimits(std::vector<SimJob>& jobs, LimitMode mode, int64_t round_s);

// Parses "trace", "none" or "round-up:SECONDS" (SECONDS >= 1).
absl::StatusOr<std::pair<LimitMode, int64_t>> ParseLimitMode(absl::string_view text);

// Resolved quota for every user of `jobs` in every group and tier: user_quota_nodes when
// > 0, else no limit (nodes x GPUs per node: a GPU-packed task counts as one node).
std::map<policy::QuotaKey, int64_t> DefaultQuota(const std::vector<SimJob>& jobs,
                                                 const std::vector<GroupSpec>& groups,
                                                 int64_t user_quota_nodes);

// Replays `jobs` to completion. Jobs that can never run (policy::CheckAdmissible) are
// rejected at their submit time, as haid would, and left out of every figure.
absl::StatusOr<SimResult> Replay(const std::vector<SimJob>& jobs,
                                 const std::vector<GroupSpec>& groups,
                                 const std::map<policy::QuotaKey, int64_t>& quota,
                                 const SimConfig& config);

}  // namespace hai::sim
