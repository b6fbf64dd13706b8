#include "scheduler/loop/scheduler.h"
#include "scheduler/loop/cluster_gauges.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/proc.h"
#include "scheduler/events/notification.h"
#include "scheduler/loop/snapshot_builder.h"
#include "scheduler/policy/decide.h"
#include "scheduler/policy/jupyter.h"
#include "scheduler/policy/tier.h"
#include "scheduler/store/leader_fence.h"

namespace hai {
namespace {
// Admin tables are reloaded on their NOTIFY; this bounds how stale they can get if a
// notification is ever missed.
constexpr absl::Duration kAdminRefresh = absl::Seconds(10);
// A pass slower than this (the cycle budget) logs where its time went, at most every
// 10 s.
constexpr int64_t kSlowPassMicros = 200000;
// Longest pause between back-to-back passes (Run's pacing).
constexpr absl::Duration kMaxPacing = absl::Milliseconds(100);

// Wall time of the phases of one pass, for the slow-pass log line.
class PassPhases {
 public:
  void Mark(const char* phase) {
    const absl::Time now = absl::Now();
    absl::StrAppend(&summary_, summary_.empty() ? "" : ", ", phase, " ",
                    absl::ToInt64Milliseconds(now - last_), " ms");
    last_ = now;
  }
  const std::string& Summary() const { return summary_; }

 private:
  absl::Time last_ = absl::Now();
  std::string summary_;
};
// The loop is one thread among the API's handler threads (one per call in flight) and,
// on a small machine, Postgres and its clients: CPU is shared per runnable thread, so under
// a storm of submits a pass with thousands of changed rows to read got ~3% of a core and
// took seconds (bench/README.md, submit_load). A higher weight for this thread keeps
// deciding ahead of accepting more work. Needs CAP_SYS_NICE (root in the embedded default);
// without it the loop keeps the default weight, with a note in the log.
void RaiseSchedulerPriority() {
  constexpr int kNice = -10;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, kNice) != 0) {
    HAI_LOG(INFO) << "scheduling loop keeps the default CPU weight (setpriority " << kNice << ": "
                  << std::strerror(errno) << ")";
  }
}

std::unique_ptr<RankReaper> MakeRankReaper(const Config& config) {
  if (config.manager.runtime != "local") {
    return std::make_unique<UnconfirmedRankReaper>(config.manager.runtime);
  }
  // The managers' <data_dir>/run (manager/lifecycle.cc), resolved as haid resolves data_dir.
  std::error_code ec;
  const std::filesystem::path data_dir = std::filesystem::absolute(config.server.data_dir, ec);
  return std::make_unique<LocalRankReaper>((data_dir / "run").string(), proc::HostName());
}

policy::PolicyConfig PolicyConfigOf(const SchedulerConfig& c) {
  policy::PolicyConfig p;
  p.preemption = c.preemption;
  p.suspend_over_quota = c.suspend_over_quota;
  p.above_normal_demote_after = c.above_normal_demote_after;
  p.default_min_runtime = c.min_runtime;
  for (const auto& [name, d] : c.min_runtime_by_tier) {
    // Names were validated by the config loader against the same tier list.
    if (auto tier = policy::ParseTier(name); tier.has_value()) p.min_runtime[*tier] = d;
  }
  return p;
}
}  // namespace

Scheduler::Scheduler(store::LoopStore& store, const Config& config, ManagerProcesses& processes,
                     Notifier& notifier, Metrics& metrics)
    : store_(store),
      config_(config),
      processes_(processes),
      notifier_(notifier),
      metrics_(metrics),
      policy_config_(PolicyConfigOf(config.scheduler)),
      applier_(store, notifier, metrics),
      node_health_(store, notifier, config.scheduler.node_lost_ranks_unhealthy),
      reaper_(MakeRankReaper(config)),
      supervisor_(store, processes, *reaper_, metrics,
                  SupervisionOptions{.manager_timeout = config.scheduler.manager_timeout,
                                     .this_host = proc::HostName()}),
      timings_(metrics, absl::Now()) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::SetJupyterStep(JupyterStep* step) {
  jupyter_ = step;
  views_.SetJupyterSource(step);
}

void Scheduler::SetLeadership(Leadership* leadership) { leadership_ = leadership; }

bool Scheduler::Superseded(int64_t epoch, const char* during) {
  const int64_t newer = store_.SupersededBy();
  if (newer == 0) return false;
  ++metrics_.fenced_writes;
  const std::string why = absl::StrCat("a write (", during, ") was refused: leader epoch ", epoch,
                                       " superseded by ", newer);
  HAI_LOG(WARNING) << why << "; stepping down to standby";
  if (leadership_ != nullptr) leadership_->StepDown(epoch, newer, why);
  return true;
}

void Scheduler::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Scheduler::RequestStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void Scheduler::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void Scheduler::Run() {
  pthread_setname_np(pthread_self(), "hai-scheduler");
  RaiseSchedulerPriority();
  absl::Duration last_pass = absl::ZeroDuration();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(this, &Scheduler::WakeOrStopping),
                           config_.scheduler.tick);
      if (stopping_) return;
      // Pacing: every submit wakes the loop, and under a stream of them back-to-back passes
      // over a long queue would take a whole core from the API threads. After a pass of d,
      // the next starts no sooner than min(d, kMaxPacing) later; wakes meanwhile coalesce
      // into it. Idle, a pass takes about a millisecond, so nothing waits noticeably.
      absl::Duration pause = std::min(last_pass, kMaxPacing);
      // A replica just elected passes at once: the hand-over's latency is its first pass.
      if (leadership_ != nullptr && leadership_->Epoch() != last_epoch_) {
        pause = absl::ZeroDuration();
      }
      if (pause > absl::ZeroDuration()) {
        mu_.AwaitWithTimeout(absl::Condition(this, &Scheduler::Stopping), pause);
        if (stopping_) return;
      }
      wake_ = false;
    }
    const absl::Time start = absl::Now();
    RunPass();
    last_pass = absl::Now() - start;
  }
}

void Scheduler::NoteChange(const std::string& channel, const std::string& payload) {
  const events::Notification n = events::ParseNotification(channel, payload);
  absl::MutexLock lock(&mu_);
  switch (n.kind) {
    case events::Notification::Kind::kReconnected:
      // The listener says "reconnected" on every connect; after the first, notifications
      // (an attempt's delete among them) may have been missed: reload everything.
      if (listener_connects_++ > 0) full_reload_ = true;
      admin_dirty_ = true;
      break;
    case events::Notification::Kind::kAdminChanged: admin_dirty_ = true; break;
    case events::Notification::Kind::kAttemptDeleted: deleted_attempts_.insert(n.attempt_id); break;
    case events::Notification::Kind::kChanged: break;
  }
  wake_ = true;
}

bool Scheduler::RefreshState(absl::Time now) {
  bool admin_due = false;
  {
    absl::MutexLock lock(&mu_);
    for (int64_t id : deleted_attempts_) open_.Recheck(id);
    deleted_attempts_.clear();
    if (full_reload_) open_.Invalidate();
    full_reload_ = false;
    admin_due = admin_dirty_ || now - admin_loaded_at_ >= kAdminRefresh;
    admin_dirty_ = false;
  }
  absl::Status s = open_.Refresh(store_);
  if (s.ok() && admin_due && !ReloadAdminTables(now)) {
    s = absl::UnavailableError("admin tables not loaded");
  }
  if (!s.ok()) {
    // Postgres unreachable: nothing is decided; the next tick retries.
    HAI_LOG(WARNING) << "scheduling pass skipped: " << s;
    ++metrics_.scheduler_pass_errors;
    supervisor_.NoteStoreUnavailable();
    return false;
  }
  if (open_.last_full()) {
    HAI_LOG(INFO) << "loaded " << open_.attempts().size() << " open attempt(s) in "
                  << absl::ToInt64Milliseconds(absl::Now() - now) << " ms";
  }
  metrics_.last_refresh_rows = open_.last_rows();
  return true;
}

bool Scheduler::ReloadAdminTables(absl::Time now) {
  // The dirty flag was cleared before these reads, so an edit notified while they run is
  // read again next pass rather than lost.
  auto hosts = store_.LoadHosts();
  auto rows = store_.LoadQuotaRows();
  auto groups = store_.LoadUserGroups();
  for (const absl::Status& st : {hosts.status(), rows.status(), groups.status()}) {
    if (st.ok()) continue;
    HAI_LOG(WARNING) << "admin tables: " << st;
    absl::MutexLock lock(&mu_);
    admin_dirty_ = true;  // retry next pass
    return false;
  }
  hosts_ = *std::move(hosts);
  quota_rows_ = *std::move(rows);
  user_groups_ = *std::move(groups);
  admin_loaded_at_ = now;
  auto nodes = std::make_shared<std::vector<policy::Node>>(NodesOf(hosts_));
  snapshot_.SetNodes(*nodes);  // the API's copy and the core's
  views_.SetNodes(std::move(nodes));
  return true;
}

void Scheduler::RunPass() {
  const absl::Time start = absl::Now();
  PassPhases phases;
  // The epoch is read once: everything this pass writes carries it, even if leadership is
  // lost meanwhile (then Postgres refuses the writes, which is the point).
  const int64_t epoch = leadership_ == nullptr ? store::kUnfenced : leadership_->Epoch();
  const bool leading = epoch != 0;
  store_.FenceWrites(epoch);
  if (epoch != last_epoch_) {
    if (leading && epoch != store::kUnfenced) {
      HAI_LOG(INFO) << "leading with epoch " << epoch << ": scheduling";
      // Managers the previous leader launched are not our children: judged like after a
      // restart (by identity and heartbeat). Re-read everything once, in case this replica's
      // copy missed a notification while it stood by.
      absl::MutexLock lock(&mu_);
      full_reload_ = true;
      admin_dirty_ = true;
    } else if (!leading) {
      HAI_LOG(INFO) << "standby: serving the API, not scheduling";
    }
    last_epoch_ = epoch;
  }
  // Reap first: a manager commits its attempt's final state before it exits, so the load
  // below already shows those attempts as ended.
  for (const ManagerExit& e : processes_.Reap()) {
    HAI_LOG(INFO) << "manager of attempt " << e.attempt_id << " (pid " << e.pid << ") exited with "
                  << e.exit_code;
  }
  if (!RefreshState(start)) return;
  const OpenAttemptMap& open = open_.attempts();
  metrics_.last_load_micros = absl::ToInt64Microseconds(absl::Now() - start);
  // A chain stopped while its suspended attempt was being requeued: end it now.
  for (int64_t id : open_.stop_queued()) {
    if (leading) (void)store_.RequestStop(open.at(id).chain.chain_id, "scheduler");
  }
  phases.Mark("load");

  policy::ResolvedQuota resolved = policy::ResolveQuota(quota_rows_, user_groups_, start);
  snapshot_.Sync(open_);
  snapshot_.SetQuota(resolved.quota);
  snapshot_.SetHolds(preemption_holds_);
  phases.Mark("snapshot");

  const absl::Time decide_start = absl::Now();
  policy::Plan plan = policy::Decide(snapshot_.snapshot(), policy_config_, start);
  metrics_.last_decide_micros = absl::ToInt64Microseconds(absl::Now() - decide_start);
  phases.Mark("decide");

  if (!leading) {
    // A standby publishes what the leader decides from the same rows (the core is a pure
    // function of them), so `queue` and pending reasons are as fresh on every replica.
    preemption_holds_ = HoldsOf(plan);
    Publish(plan, std::move(resolved), start);
    metrics_.last_pass_micros = absl::ToInt64Microseconds(absl::Now() - start);
    ++metrics_.scheduler_passes;
    return;
  }
  if (pause_before_apply_ > absl::ZeroDuration() && !plan.starts.empty()) {
    HAI_LOG(INFO) << "test hook: pausing " << absl::FormatDuration(pause_before_apply_)
                  << " before applying " << plan.starts.size() << " start(s) with epoch " << epoch;
    absl::SleepFor(pause_before_apply_);
  }

  const AppliedPlan applied = applier_.Apply(plan, open);
  // Memory disagreed with Postgres about these attempts: read them again even if no change
  // is recorded for them (e.g. their rows were deleted).
  for (int64_t id : applied.stale) open_.Recheck(id);
  for (int64_t id : applied.started) supervisor_.StartManager(id);
  preemption_holds_ = HoldsOf(plan);
  phases.Mark("apply");
  if (Superseded(epoch, "applying the plan")) return;
  if (jupyter_ != nullptr) jupyter_->Run(hosts_, start);
  phases.Mark("jupyter");
  if (Superseded(epoch, "the Jupyter pass")) return;
  if (node_health_.Check()) Wake();  // the next pass sees the node as unusable
  phases.Mark("health");
  if (Superseded(epoch, "node health")) return;
  // Signalling or launching managers is not a database write Postgres could refuse: make
  // sure the epoch is still current first (a paused ex-leader resumes here at the latest).
  if (epoch != store::kUnfenced && !store_.VerifyEpoch().ok()) {
    // Superseded (this steps down) or Postgres unreachable: no process is touched this pass.
    Superseded(epoch, "supervision");
    return;
  }
  supervisor_.Supervise(open_, start);
  if (Superseded(epoch, "supervision")) return;
  timings_.Observe(open_, absl::Now());
  if (supervisor_.TakeHostsChanged()) {
    // Nodes were cordoned as their attempt's GPUs were freed: reload hosts before placing
    // anything (the hosts NOTIFY may arrive after the next pass's read of the attempts).
    absl::MutexLock lock(&mu_);
    admin_dirty_ = true;
    wake_ = true;
  }
  phases.Mark("supervise");

  Publish(plan, std::move(resolved), start);
  phases.Mark("publish");
  const int64_t micros = absl::ToInt64Microseconds(absl::Now() - start);
  if (micros > kSlowPassMicros && absl::Now() - last_slow_pass_log_ > absl::Seconds(10)) {
    last_slow_pass_log_ = absl::Now();
    HAI_LOG(INFO) << "slow pass: " << micros / 1000 << " ms (" << phases.Summary() << ") over "
                  << open.size() << " open attempts";
  }
  metrics_.last_pass_micros = micros;
  metrics_.pass_micros_total += micros;
  metrics_.pass_seconds.Observe(absl::Microseconds(micros));
  metrics_.last_pass_unix_micros = absl::ToUnixMicros(absl::Now());
  ++metrics_.scheduler_passes;
  ++metrics_.leader_passes;
}

void Scheduler::Publish(policy::Plan& plan, policy::ResolvedQuota resolved, absl::Time start) {
  const policy::Snapshot& snapshot = snapshot_.snapshot();
  auto pending = std::make_shared<PendingTable>();
  pending->Reserve(plan.pending.size());
  metrics_.SetClusterGauges(
      RenderClusterGauges({.hosts = hosts_,
                           .snapshot = snapshot,
                           .pending = plan.pending,
                           .open = open_.attempts(),
                           .top_users = config_.scheduler.metrics_top_users}));
  for (policy::Pending& p : plan.pending) {  // the plan is spent: its entries move
    const size_t i = p.queued_index;
    pending->Add(std::move(p), snapshot.queued[i], snapshot_.QueuedName(i));
  }
  QuotaView qv;
  qv.quota = std::move(resolved.quota);
  qv.problems = std::move(resolved.problems);
  // Bad jupyter quota rows (resolved at create, jupyter_service.cc) are reported alike.
  for (policy::QuotaProblem& p : policy::JupyterQuotaProblems(quota_rows_, user_groups_, start)) {
    qv.problems.push_back(std::move(p));
  }
  for (const policy::Task& t : snapshot.running) {
    qv.used_nodes[{t.user, t.group, t.tier}] += static_cast<int64_t>(t.placement.size());
  }
  qv.rows = quota_rows_;
  qv.user_groups = user_groups_;
  if (!qv.problems.empty() && static_cast<int64_t>(qv.problems.size()) != metrics_.quota_problems) {
    for (const auto& p : qv.problems) HAI_LOG(WARNING) << "quota row ignored: " << p.message;
  }
  metrics_.quota_problems = static_cast<int64_t>(qv.problems.size());
  metrics_.queued_attempts = static_cast<int64_t>(snapshot.queued.size());
  metrics_.running_attempts = static_cast<int64_t>(snapshot.running.size());
  views_.Publish(std::move(pending), std::move(qv), absl::Now());
}

}  // namespace hai
