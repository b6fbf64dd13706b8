// The discrete-event replay (model in replay.h).
//
// Why the queue may be pruned (SimConfig::prune_queue). A pass walks the queue in order
// (tier desc, first submit, attempt id); a task starts, or claims capacity through
// preemption or nodes being freed, or waits. Within one pass the capacity a task can use
// only shrinks: starts take GPUs, claims and head-of-tier reservations take nodes, quota use
// only grows, victims only get used up; the one exception is a carried-over preemption hold,
// released to ordinary capacity at its holder's turn. Take a class of queued tasks that are
// interchangeable for the policy (same tier, user and shape nodes x GPUs per node) and let
// P be every GPU any of them could ever get in this pass: free GPUs, GPUs being freed, and
// (with preemption) GPUs of running tasks below the highest queued tier, since a preemptor
// of that tier may suspend them and any later task may then claim what they free (a
// NORMAL task may take a node a HIGH preemptor's victim is freeing). Each success costs at
// least c = nodes x GPUs per node (whole nodes: the group's node size) of P, so at most
// P / c of them succeed, and once one fails (after the last hold release) every later one
// fails too. Over-quota suspensions (PolicyConfig::suspend_over_quota) are made before the
// walk, at any tier, so P also counts every GPU of an owner over its quota. So handing the
// policy, per class, every task up to the last holder plus the next P / c + 1 changes no
// start and no suspension: the ones left out would all have waited, none of them would
// have been the head of its tier (an earlier one of its class failed first), and a waiting
// task changes nothing for the tasks after it. Only the pending list (which the simulator
// does not use) is shorter.
// ReplayTest.PrunedQueueGivesTheSameSchedule and ReplayTest.LowerTiersClaimWhatAPreemptors-
// VictimFrees check this against unpruned replays, as did the Philly window (identical
// per-job times for every policy at full and half size, docs/simulation.md).
#include "bench/sim/replay.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <compare>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bench/sim/fifo_baseline.h"
#include "bench/sim/sim_cluster.h"
#include "scheduler/policy/decide.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/rules.h"
#include "scheduler/policy/tier.h"

namespace hai::sim {
namespace {

using policy::Task;
using policy::Tier;

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

absl::Time At(int64_t s) { return absl::FromUnixSeconds(s); }
int64_t Seconds(absl::Time t) { return absl::ToUnixSeconds(t); }

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Same-instant order: state changes first (so a pass sees all of them), decisions last.
enum EventKind : int { kFinish = 0, kStop = 1, kArrive = 2, kDecide = 3 };

struct Event {
  int64_t time;
  int kind;
  int64_t seq;  // push order: arrivals in (submit, file order) get ascending attempt ids
  int64_t id;   // job index, attempt id or group index
  bool operator>(const Event& o) const {
    return std::tie(time, kind, seq) > std::tie(o.time, o.kind, o.seq);
  }
};

// Queued tasks the policy cannot tell apart (see the top of this file).
struct ClassKey {
  int tier;
  std::string user;
  int nodes;
  int gpus_per_node;
  absl::Duration limit;  // backfill depends on it
  std::weak_ordering operator<=>(const ClassKey&) const = default;
};
using OrderKey = std::pair<int64_t, int64_t>;  // (first submit s, attempt id)

ClassKey KeyOf(const Task& t) {
  return {t.requested_priority, t.user, t.nodes, t.gpus_per_node, t.time_limit};
}

// A group's cluster (tasks, plan application: sim_cluster.h) plus what the replay adds:
// the queue split into classes for pruning, free GPUs, and the pending decision.
struct GroupState {
  const GroupSpec* spec = nullptr;
  std::optional<SimCluster> cluster;  // its nodes and quota are the group's
  std::map<ClassKey, std::set<OrderKey>> classes;
  int64_t free_gpus = 0;
  int64_t decide_at = -1;  // pending decision time, -1: none
  // Free GPUs on the nodes the last plan held for waiting tasks (Pending::reserved_nodes).
  int64_t reserved_idle_gpus = 0;
};

struct RunningAttempt {
  int job = 0;
  int group = 0;
  int gpus = 0;
};

// The first whole second at or after `t`: a wake-up for a rule that holds from `t` on.
int64_t CeilSeconds(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);
  return At(s) < t ? s + 1 : s;
}

class Replayer {
 public:
  Replayer(const std::vector<SimJob>& jobs, const std::vector<GroupSpec>& groups,
           const std::map<policy::QuotaKey, int64_t>& quota, const SimConfig& config)
      : jobs_(jobs), config_(config) {
    pc_ = config.policy_config;
    pc_.preemption = config.policy == PolicyKind::kHai;
    groups_.resize(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) {
      group_index_[groups[g].name] = static_cast<int>(g);
    }
    std::vector<std::map<policy::QuotaKey, int64_t>> group_quota(groups.size());
    for (const auto& [key, value] : quota) {
      auto it = group_index_.find(key.group);
      if (it != group_index_.end()) group_quota[it->second].emplace(key, value);
    }
    const RestartCost cost{.checkpoint_interval = absl::Seconds(config.cost.checkpoint_interval_s),
                           .restart_overhead = absl::Seconds(config.cost.restart_overhead_s)};
    for (size_t g = 0; g < groups.size(); ++g) {
      GroupState& gs = groups_[g];
      gs.spec = &groups[g];
      std::vector<policy::Node> nodes;
      for (int n = 0; n < groups[g].nodes; ++n) {
        policy::Node node;
        node.name = absl::StrFormat("%s-%05d", groups[g].name, n);
        node.group = groups[g].name;
        node.gpus = groups[g].gpus_per_node;
        nodes.push_back(std::move(node));
      }
      gs.cluster.emplace(std::move(nodes), std::move(group_quota[g]), cost);
      gs.free_gpus = int64_t{groups[g].nodes} * groups[g].gpus_per_node;
      total_gpus_ += gs.free_gpus;
    }
    outcomes_.resize(jobs.size());
  }

  absl::StatusOr<SimResult> Run() {
    const auto wall0 = std::chrono::steady_clock::now();
    const double cpu0 = CpuSeconds();
    std::vector<int> order(jobs_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return jobs_[a].submit_s < jobs_[b].submit_s; });
    if (!jobs_.empty()) {
      start_s_ = jobs_[order.front()].submit_s;
      window_end_s_ = jobs_[order.back()].submit_s;
    }
    now_ = start_s_;
    for (int j : order) {
      if (group_index_.find(jobs_[j].group) == group_index_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("job ", jobs_[j].id, ": no group ", jobs_[j].group, " in the cluster"));
      }
      Push(jobs_[j].submit_s, kArrive, j);
    }
    while (!events_.empty()) {
      const Event e = events_.top();
      events_.pop();
      Advance(e.time);
      switch (e.kind) {
        case kArrive: Arrive(static_cast<int>(e.id)); break;
        case kFinish: Finish(e.id); break;
        case kStop: Stop(e.id); break;
        case kDecide: {
          GroupState& gs = groups_[e.id];
          if (gs.decide_at != e.time) break;  // superseded by an earlier decision
          gs.decide_at = -1;
          Pass(static_cast<int>(e.id));
          break;
        }
      }
    }
    for (const GroupState& gs : groups_) {
      const size_t queued = gs.cluster->queued().size();
      const size_t running = gs.cluster->snapshot().running.size();
      if (queued != 0 || running != 0) {
        return absl::InternalError(absl::StrCat("replay ended with ", queued, " queued and ",
                                                running, " running tasks in group ", gs.spec->name,
                                                " (the policy never started them)"));
      }
    }
    SimResult r;
    r.policy = config_.policy;
    r.jobs = std::move(outcomes_);
    r.total_gpus = total_gpus_;
    r.start_s = start_s_;
    r.end_s = now_;
    r.window_end_s = window_end_s_;
    const double cap = static_cast<double>(total_gpus_);
    if (window_end_s_ > start_s_ && cap > 0) {
      r.window_utilisation =
          held_in_window_ / (cap * static_cast<double>(window_end_s_ - start_s_));
    }
    if (now_ > start_s_ && cap > 0) {
      r.makespan_utilisation = held_total_ / (cap * static_cast<double>(now_ - start_s_));
    }
    r.util_bucket_s = Bucket();
    r.utilisation = std::move(buckets_);
    r.waiting_gpus = std::move(waiting_buckets_);
    r.waiting_gpus.resize(r.utilisation.size(), 0.0);
    for (size_t b = 0; b < r.utilisation.size(); ++b) {
      const int64_t lo = start_s_ + static_cast<int64_t>(b) * Bucket();
      const double len = static_cast<double>(std::min(Bucket(), now_ - lo));
      r.utilisation[b] = len > 0 && cap > 0 ? r.utilisation[b] / (cap * len) : 0;
      r.waiting_gpus[b] = len > 0 ? r.waiting_gpus[b] / len : 0;
    }
    r.idle_waiting_gpu_s = idle_waiting_;
    r.reserved_idle_gpu_s = reserved_idle_;
    r.decide_calls = decide_calls_;
    r.queued_passed = queued_passed_;
    r.over_quota_suspensions = over_quota_suspensions_;
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    r.cpu_s = CpuSeconds() - cpu0;
    return r;
  }

 private:
  int64_t Bucket() const { return std::max<int64_t>(config_.util_bucket_s, 1); }

  void Push(int64_t time, int kind, int64_t id) { events_.push({time, kind, seq_++, id}); }

  int64_t Tick(int64_t t) const {
    const int64_t i = config_.interval_s;
    if (i <= 0) return t;
    const int64_t q = t / i * i;
    return q == t ? t : q + i;
  }

  void MarkDirty(int g, int64_t at) {
    GroupState& gs = groups_[g];
    const int64_t t = Tick(std::max(at, now_));
    if (gs.decide_at != -1 && gs.decide_at <= t) return;
    gs.decide_at = t;
    Push(t, kDecide, g);
  }

  // Adds `gpus` x seconds over [now_, to) to `series`, split at bucket boundaries.
  void Spread(std::vector<double>& series, int64_t gpus, int64_t to) {
    const size_t last = static_cast<size_t>((to - 1 - start_s_) / Bucket());
    if (series.size() <= last) series.resize(last + 1, 0.0);
    if (gpus == 0) return;
    for (int64_t t = now_; t < to;) {
      const size_t b = static_cast<size_t>((t - start_s_) / Bucket());
      const int64_t upto = std::min(to, start_s_ + static_cast<int64_t>(b + 1) * Bucket());
      series[b] += static_cast<double>(gpus) * static_cast<double>(upto - t);
      t = upto;
    }
  }

  // Integrates held and waiting GPUs up to `to`.
  void Advance(int64_t to) {
    if (to <= now_) return;
    const double busy = static_cast<double>(busy_gpus_);
    held_total_ += busy * static_cast<double>(to - now_);
    const int64_t wlo = std::max(now_, start_s_);
    const int64_t whi = std::min(to, window_end_s_);
    if (whi > wlo) held_in_window_ += busy * static_cast<double>(whi - wlo);
    Spread(buckets_, busy_gpus_, to);
    Spread(waiting_buckets_, waiting_gpus_, to);
    const double dt = static_cast<double>(to - now_);
    for (const GroupState& gs : groups_) {
      if (gs.cluster->queued().empty()) continue;
      idle_waiting_ += static_cast<double>(gs.free_gpus) * dt;
      reserved_idle_ += static_cast<double>(gs.reserved_idle_gpus) * dt;
    }
    now_ = to;
  }

  // GPUs a task holds once started: whole nodes for gangs and whole-node tasks.
  static int TaskGpus(const GroupState& gs, const Task& t) {
    const bool exclusive = t.nodes > 1 || t.gpus_per_node == 0;
    return exclusive ? t.nodes * gs.spec->gpus_per_node : t.gpus_per_node;
  }

  // A task joined the group's queue (new or requeued): the replay's own indexes.
  void Track(GroupState& gs, const Task& t) {
    waiting_gpus_ += TaskGpus(gs, t);
    gs.classes[KeyOf(t)].insert({Seconds(t.first_submit), t.attempt_id});
  }

  void Arrive(int j) {
    const SimJob& job = jobs_[j];
    const int g = group_index_.at(job.group);
    GroupState& gs = groups_[g];
    const policy::AdmissionRequest req{.user = job.user,
                                       .group = job.group,
                                       .priority = static_cast<int>(job.tier),
                                       .nodes = job.nodes,
                                       .gpus_per_node = job.gpus_per_node};
    const absl::Status admissible =
        policy::CheckAdmissible(req, gs.cluster->snapshot().nodes, gs.cluster->snapshot().quota);
    if (!admissible.ok()) {
      outcomes_[j].rejected = true;
      outcomes_[j].reject_reason = std::string(admissible.message());
      return;
    }
    Task t;
    t.attempt_id = next_attempt_++;
    t.chain_id = j + 1;
    t.user = job.user;
    t.requested_priority = static_cast<int>(job.tier);
    t.tier = job.tier;
    t.group = job.group;
    t.nodes = job.nodes;
    t.gpus_per_node = job.gpus_per_node;
    t.first_submit = At(job.submit_s);
    if (job.time_limit_s > 0) t.time_limit = absl::Seconds(job.time_limit_s);
    Track(gs, t);
    gs.cluster->Submit(std::move(t), absl::Seconds(job.duration_s));
    MarkDirty(g, now_);
  }

  void Release(int g, const RunningAttempt& ra) {
    groups_[g].free_gpus += ra.gpus;
    busy_gpus_ -= ra.gpus;
  }

  void Finish(int64_t attempt) {
    auto it = running_.find(attempt);
    if (it == running_.end()) return;  // it was suspended before it could finish
    const RunningAttempt ra = it->second;
    running_.erase(it);
    SimCluster& cluster = *groups_[ra.group].cluster;
    JobOutcome& o = outcomes_[ra.job];
    o.finish_s = now_;
    o.lost_gpu_s += int64_t{ra.gpus} * absl::ToInt64Seconds(cluster.Overhead(attempt));
    cluster.Finish(attempt);
    Release(ra.group, ra);
    MarkDirty(ra.group, now_);
  }

  // A suspension takes effect: the attempt stops, keeps what it checkpointed, requeues
  // keeping its place (SimCluster::Stop).
  void Stop(int64_t attempt) {
    auto it = running_.find(attempt);
    if (it == running_.end()) return;  // it finished during the grace period
    const RunningAttempt ra = it->second;
    running_.erase(it);
    GroupState& gs = groups_[ra.group];
    const int64_t next = next_attempt_++;
    const SimCluster::Stopped stopped = gs.cluster->Stop(attempt, next, At(now_));
    Release(ra.group, ra);
    JobOutcome& o = outcomes_[ra.job];
    ++o.suspensions;
    o.lost_gpu_s += int64_t{ra.gpus} * absl::ToInt64Seconds(stopped.ran - stopped.saved);
    Track(gs, gs.cluster->queued().at(next));
    MarkDirty(ra.group, now_);
  }

  void BuildQueue(GroupState& gs) {
    SimCluster& cluster = *gs.cluster;
    if (!config_.prune_queue) {
      cluster.QueueAll();
      return;
    }
    std::vector<Task>& out = cluster.snapshot().queued;
    out.clear();
    const absl::Time now = At(now_);
    // GPUs being freed, and GPUs of running tasks by effective tier (index = tier value).
    int64_t freeing = 0;
    std::array<int64_t, 51> by_tier{};
    for (const Task& r : cluster.snapshot().running) {
      const int gpus = running_.at(r.attempt_id).gpus;
      // A task past its time limit may be suspended for a head of its tier or above.
      if (r.suspend_requested || policy::OverLimit(r, now)) {
        freeing += gpus;
      } else {
        by_tier[static_cast<int>(policy::EffectiveTier(r, pc_, now))] += gpus;
      }
    }
    // The last holder in queue order (tier desc, first submit, attempt).
    std::optional<std::tuple<int, int64_t, int64_t>> last_holder;
    for (int64_t h : cluster.holders()) {
      const Task& t = cluster.queued().at(h);
      const std::tuple<int, int64_t, int64_t> k{-t.requested_priority, Seconds(t.first_submit),
                                                t.attempt_id};
      if (!last_holder || k > *last_holder) last_holder = k;
    }
    // With preemption, anything below the top queued tier may be suspended in this pass,
    // and the GPUs it frees can be claimed by any later task, of any tier.
    int top_tier = -1;
    for (const auto& [key, members] : gs.classes) {
      if (!members.empty()) top_tier = std::max(top_tier, key.tier);
    }
    int64_t capacity = gs.free_gpus + freeing + OverQuotaGpus(cluster, now);
    if (pc_.preemption) {
      for (int tier = 0; tier < top_tier && tier < 51; ++tier) capacity += by_tier[tier];
    }
    const int min_node_gpus = std::max(gs.spec->gpus_per_node, 1);
    for (const auto& [key, members] : gs.classes) {
      if (members.empty()) continue;
      const int64_t cost = int64_t{std::max(key.nodes, 1)} *
                           (key.gpus_per_node > 0 ? key.gpus_per_node : min_node_gpus);
      const int64_t cap = capacity / std::max<int64_t>(cost, 1) + 1;
      int64_t counted = 0;
      for (const OrderKey& ok : members) {
        const bool before_hold = last_holder && std::tuple<int, int64_t, int64_t>{
                                                    -key.tier, ok.first, ok.second} <= *last_holder;
        if (!before_hold) {
          if (counted == cap) break;
          ++counted;
        }
        out.push_back(cluster.queued().at(ok.second));
      }
    }
  }

  // With suspend_over_quota, Decide suspends tasks of owners over their quota before it
  // walks the queue, at any tier, and their GPUs are being freed for the rest of the pass:
  // for the pruning bound, every GPU of an owner (user, effective tier) over its quota.
  int64_t OverQuotaGpus(const SimCluster& cluster, absl::Time now) const {
    if (!pc_.suspend_over_quota) return 0;
    std::map<policy::QuotaKey, std::pair<int64_t, int64_t>> held;  // nodes, GPUs
    for (const Task& r : cluster.snapshot().running) {
      if (r.suspend_requested) continue;
      auto& [nodes, gpus] = held[{r.user, r.group, policy::EffectiveTier(r, pc_, now)}];
      nodes += std::max(r.nodes, 1);
      gpus += running_.at(r.attempt_id).gpus;
    }
    int64_t out = 0;
    for (const auto& [key, use] : held) {
      auto q = cluster.snapshot().quota.find(key);
      if (use.first > (q == cluster.snapshot().quota.end() ? 0 : q->second)) out += use.second;
    }
    return out;
  }

  // Whether a pass can change anything with nothing queued: only by suspending tasks over
  // their quota (an ABOVE_NORMAL task demoted beyond its owner's NORMAL quota).
  bool PassWithoutQueue() const {
    return config_.policy != PolicyKind::kFifo && pc_.suspend_over_quota;
  }

  void Pass(int g) {
    GroupState& gs = groups_[g];
    SimCluster& cluster = *gs.cluster;
    if (cluster.queued().empty() && !PassWithoutQueue()) {
      gs.reserved_idle_gpus = 0;
      return;
    }
    BuildQueue(gs);
    const absl::Time now = At(now_);
    const policy::Snapshot& snap = cluster.snapshot();
    const policy::Plan plan =
        config_.policy == PolicyKind::kFifo ? FifoDecide(snap) : policy::Decide(snap, pc_, now);
    if (config_.observer) config_.observer(snap, plan, now);
    ++decide_calls_;
    queued_passed_ += static_cast<int64_t>(snap.queued.size());
    for (const policy::SuspendDecision& s : plan.suspends) {
      over_quota_suspensions_ += s.kind == policy::SuspendKind::kOverQuota ? 1 : 0;
    }

    const SimCluster::Applied applied = cluster.Apply(plan, now);
    for (int64_t victim : applied.suspend_requested) {
      Push(now_ + config_.cost.suspend_grace_s, kStop, victim);
    }
    for (int64_t id : applied.started) Started(g, id);
    gs.reserved_idle_gpus = ReservedIdleGpus(gs, plan);
    ScheduleWakeUp(g);
  }

  // Free GPUs, after the plan's starts, on the nodes the plan holds for waiting tasks: the
  // capacity a reservation keeps idle until the next pass.
  static int64_t ReservedIdleGpus(const GroupState& gs, const policy::Plan& plan) {
    absl::flat_hash_map<std::string, int64_t> used;  // reserved node -> GPUs in use
    for (const policy::Pending& p : plan.pending) {
      for (const std::string& n : p.reserved_nodes) used.emplace(n, 0);
    }
    if (used.empty()) return 0;
    for (const Task& r : gs.cluster->snapshot().running) {
      const bool exclusive = r.nodes > 1 || r.gpus_per_node == 0;
      for (const policy::RankPlacement& p : r.placement) {
        auto it = used.find(p.node);
        if (it == used.end()) continue;
        it->second += exclusive ? gs.spec->gpus_per_node : static_cast<int64_t>(p.gpus.size());
      }
    }
    int64_t idle = 0;
    for (const auto& [node, gpus] : used)
      idle += std::max<int64_t>(0, gs.spec->gpus_per_node - gpus);
    return idle;
  }

  // The replay's side of a start the cluster applied: indexes, GPUs, outcome, finish event.
  void Started(int g, int64_t attempt) {
    GroupState& gs = groups_[g];
    const Task& t = *gs.cluster->FindRunning(attempt);
    auto cls = gs.classes.find(KeyOf(t));
    cls->second.erase({Seconds(t.first_submit), t.attempt_id});
    if (cls->second.empty()) gs.classes.erase(cls);

    const int gpus = TaskGpus(gs, t);
    waiting_gpus_ -= gpus;
    const int j = static_cast<int>(t.chain_id - 1);
    JobOutcome& o = outcomes_[j];
    if (o.first_start_s < 0) o.first_start_s = now_;
    o.gpus_allocated = gpus;
    gs.free_gpus -= gpus;
    busy_gpus_ += gpus;
    Push(Seconds(gs.cluster->FinishTime(attempt)), kFinish, attempt);
    running_.emplace(attempt, RunningAttempt{.job = j, .group = g, .gpus = gpus});
  }

  // Decisions that depend on the clock alone: a running task leaving its minimum-runtime
  // window (it becomes a possible victim) or an ABOVE_NORMAL task dropping to NORMAL
  // (policy/rules.h). Wake the group then if something waits that could use it, or if the
  // demotion may put its owner over quota.
  void ScheduleWakeUp(int g) {
    GroupState& gs = groups_[g];
    const SimCluster& cluster = *gs.cluster;
    if (config_.policy == PolicyKind::kFifo) return;
    if (cluster.queued().empty() && !PassWithoutQueue()) return;
    int top_queued = -1;
    for (const auto& [key, members] : gs.classes) {
      if (!members.empty()) top_queued = std::max(top_queued, key.tier);
    }
    const absl::Time now = At(now_);
    int64_t next = kNever;
    auto sooner = [&](absl::Time t) {
      if (t > now && t != absl::InfiniteFuture()) next = std::min(next, CeilSeconds(t));
    };
    for (const Task& r : cluster.snapshot().running) {
      if (r.suspend_requested) continue;
      sooner(policy::DemotionTime(r, pc_));
      // Past its limit it may be suspended for a reservation (rules.h OverLimit).
      sooner(policy::LimitEnd(r));
      if (pc_.preemption && static_cast<int>(policy::EffectiveTier(r, pc_, now)) < top_queued) {
        sooner(policy::ProtectedUntil(r, pc_, now));
      }
    }
    if (next != kNever) MarkDirty(g, next);
  }

  const std::vector<SimJob>& jobs_;
  const SimConfig& config_;
  policy::PolicyConfig pc_;
  std::vector<GroupState> groups_;
  std::map<std::string, int> group_index_;
  std::vector<JobOutcome> outcomes_;
  absl::flat_hash_map<int64_t, RunningAttempt> running_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  int64_t seq_ = 0;
  int64_t next_attempt_ = 1;
  int64_t now_ = 0;
  int64_t start_s_ = 0;
  int64_t window_end_s_ = 0;
  int64_t total_gpus_ = 0;
  int64_t busy_gpus_ = 0;
  double held_total_ = 0;
  double held_in_window_ = 0;
  int64_t waiting_gpus_ = 0;  // GPUs the queued tasks would hold
  double idle_waiting_ = 0;   // GPU-seconds free in a group with a queue
  double reserved_idle_ = 0;  // of which on nodes held for waiting tasks
  std::vector<double> buckets_;
  std::vector<double> waiting_buckets_;
  int64_t decide_calls_ = 0;
  int64_t queued_passed_ = 0;
  int64_t over_quota_suspensions_ = 0;
};

}  // namespace

absl::string_view PolicyName(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kFifo: return "fifo";
    case PolicyKind::kHai: return "hai";
    case PolicyKind::kHaiNoPreempt: return "hai-nopreempt";
  }
  return "?";
}

absl::StatusOr<PolicyKind> ParsePolicy(absl::string_view name) {
  for (PolicyKind k : {PolicyKind::kFifo, PolicyKind::kHai, PolicyKind::kHaiNoPreempt}) {
    if (name == PolicyName(k)) return k;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown policy '", name, "' (fifo, hai, hai-nopreempt)"));
}

absl::StatusOr<std::vector<SimJob>> BuildJobs(const std::vector<TraceJob>& trace,
                                              const std::vector<GroupSpec>& groups,
                                              const std::vector<policy::Tier>& tiers) {
  if (tiers.size() != trace.size()) {
    return absl::InvalidArgumentError("one tier per job is needed");
  }
  std::map<std::string, const GroupSpec*> by_name;
  for (const GroupSpec& g : groups) by_name[g.name] = &g;
  std::vector<SimJob> out;
  out.reserve(trace.size());
  for (size_t i = 0; i < trace.size(); ++i) {
    const TraceJob& tj = trace[i];
    auto it = by_name.find(tj.group);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(absl::StrCat("job ", tj.id, ": group '", tj.group,
                                                     "' is not in the cluster description"));
    }
    const int per_node = it->second->gpus_per_node;
    SimJob j;
    j.id = tj.id;
    j.user = tj.user;
    j.group = tj.group;
    j.submit_s = tj.submit_s;
    j.duration_s = tj.duration_s;
    j.gpus = tj.gpus;
    j.tier = tiers[i];
    j.time_limit_s = tj.time_limit_s;
    const int needed = (tj.gpus + per_node - 1) / per_node;
    j.nodes = std::max(tj.nodes, needed);
    // One node: pack its GPUs beside others. Several: whole nodes (a gang).
    j.gpus_per_node = j.nodes == 1 ? tj.gpus : 0;
    out.push_back(std::move(j));
  }
  return out;
}

void AssignLimits(std::vector<SimJob>& jobs, LimitMode mode, int64_t round_s) {
  for (SimJob& j : jobs) {
    switch (mode) {
      case LimitMode::kTrace: break;
      case LimitMode::kNone: j.time_limit_s = 0; break;
      case LimitMode::kRoundUp:
        j.time_limit_s = std::max<int64_t>(1, (j.duration_s + round_s - 1) / round_s) * round_s;
        break;
    }
  }
}

absl::StatusOr<std::pair<LimitMode, int64_t>> ParseLimitMode(absl::string_view text) {
  if (text == "trace") return std::make_pair(LimitMode::kTrace, int64_t{0});
  if (text == "none") return std::make_pair(LimitMode::kNone, int64_t{0});
  int64_t s = 0;
  if (absl::ConsumePrefix(&text, "round-up:") && absl::SimpleAtoi(text, &s) && s >= 1) {
    return std::make_pair(LimitMode::kRoundUp, s);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("time limits '", text, "' must be trace, none or round-up:SECONDS"));
}

std::map<policy::QuotaKey, int64_t> DefaultQuota(const std::vector<SimJob>& jobs,
                                                 const std::vector<GroupSpec>& groups,
                                                 int64_t user_quota_nodes) {
  std::set<std::string> users;
  for (const SimJob& j : jobs) users.insert(j.user);
  std::map<policy::QuotaKey, int64_t> out;
  for (const std::string& u : users) {
    for (const GroupSpec& g : groups) {
      // A GPU-packed task counts as one node of quota, so "no limit" is one per GPU.
      const int64_t unlimited = int64_t{g.nodes} * std::max(g.gpus_per_node, 1);
      const int64_t q = user_quota_nodes > 0 ? user_quota_nodes : unlimited;
      for (Tier t : policy::kTiersDescending) out[{u, g.name, t}] = q;
    }
  }
  return out;
}

absl::StatusOr<SimResult> Replay(const std::vector<SimJob>& jobs,
                                 const std::vector<GroupSpec>& groups,
                                 const std::map<policy::QuotaKey, int64_t>& quota,
                                 const SimConfig& config) {
  if (config.cost.suspend_grace_s < 0 || config.cost.checkpoint_interval_s < 0 ||
      config.cost.restart_overhead_s < 0 || config.interval_s < 0) {
    return absl::InvalidArgumentError(
        "suspend grace, checkpoint interval, restart overhead and interval must be >= 0");
  }
  if (config.util_bucket_s < 1) return absl::InvalidArgumentError("util bucket must be >= 1 s");
  if (!jobs.empty()) {
    const auto [lo, hi] = std::minmax_element(
        jobs.begin(), jobs.end(),
        [](const SimJob& a, const SimJob& b) { return a.submit_s < b.submit_s; });
    // The series is kept in memory and written out: bound it.
    if ((hi->submit_s - lo->submit_s) / config.util_bucket_s > 1'000'000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a ", config.util_bucket_s, " s utilisation bucket gives over a million buckets over ",
          hi->submit_s - lo->submit_s, " s of submits; choose a larger bucket"));
    }
  }
  Replayer r(jobs, groups, quota, config);
  return r.Run();
}

}  // namespace hai::sim
