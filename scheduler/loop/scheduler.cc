#include "scheduler/loop/scheduler.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/model/states.h"
#include "scheduler/loop/jupyter_pass.h"
#include "scheduler/loop/manager_liveness.h"
#include "scheduler/loop/snapshot_builder.h"
#include "scheduler/policy/decide.h"
#include "scheduler/policy/jupyter.h"
#include "scheduler/policy/pending_detail.h"
#include "scheduler/policy/rules.h"
#include "scheduler/policy/tier.h"

namespace hai {
namespace {
// Relaunches of a lost manager before its attempt is failed.
constexpr int kMaxManagerRestarts = 3;
// A manager that has not written its first heartbeat this long after scheduling is lost.
constexpr absl::Duration kManagerStartTimeout = absl::Seconds(30);
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
}  // namespace

void PendingTable::Reserve(size_t n) { entries_.reserve(n); }

void PendingTable::Add(policy::Pending pending, const policy::Task& task, std::string_view name) {
  Entry& e = entries_.emplace_back();
  e.chain_id = task.chain_id;
  e.nodes = task.nodes;
  e.tier = static_cast<int>(pending.tier);  // the tier it waits at (AUTO resolved)
  e.text = static_cast<uint32_t>(text_.size());
  e.name_len = static_cast<uint32_t>(name.size());
  e.user_len = static_cast<uint32_t>(task.user.size());
  e.group_len = static_cast<uint32_t>(task.group.size());
  text_.append(name).append(task.user).append(task.group);
  e.pending = std::move(pending);
}

const absl::flat_hash_map<int64_t, uint32_t>& PendingTable::ByChain() const {
  absl::call_once(by_chain_once_, [this] {
    by_chain_.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
      by_chain_[entries_[i].chain_id] = static_cast<uint32_t>(i);
    }
  });
  return by_chain_;
}

PendingView PendingTable::View(const Entry& e) const {
  const std::string_view text(text_);
  const std::string_view name = text.substr(e.text, e.name_len);
  const std::string_view user = text.substr(e.text + e.name_len, e.user_len);
  const std::string_view group = text.substr(e.text + e.name_len + e.user_len, e.group_len);
  return PendingView{e.chain_id,
                     std::string(name),
                     std::string(user),
                     std::string(group),
                     e.nodes,
                     e.tier,
                     e.pending.position_in_tier,
                     std::string(policy::PendingReasonName(e.pending.reason)),
                     policy::PendingDetail(e.pending, user, group)};
}

std::optional<PendingView> PendingTable::Find(int64_t chain_id) const {
  const auto& by_chain = ByChain();
  auto it = by_chain.find(chain_id);
  if (it == by_chain.end()) return std::nullopt;
  return View(entries_[it->second]);
}

std::vector<PendingView> PendingTable::All() const {
  std::vector<PendingView> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(View(e));
  return out;
}

Scheduler::Scheduler(store::Store& store, const Config& config, Launcher& launcher,
                     Notifier& notifier, Metrics& metrics)
    : store_(store), config_(config), launcher_(launcher), notifier_(notifier), metrics_(metrics) {
  policy_config_.preemption = config.scheduler.preemption;
  policy_config_.suspend_over_quota = config.scheduler.suspend_over_quota;
  policy_config_.above_normal_demote_after = config.scheduler.above_normal_demote_after;
  policy_config_.default_min_runtime = config.scheduler.min_runtime;
  for (const auto& [name, d] : config.scheduler.min_runtime_by_tier) {
    // Names were validated by the config loader against the same tier list.
    if (auto tier = policy::ParseTier(name); tier.has_value())
      policy_config_.min_runtime[*tier] = d;
  }
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Scheduler::Run() {
  pthread_setname_np(pthread_self(), "hai-scheduler");
  RaiseSchedulerPriority();
  absl::Duration last_pass = absl::ZeroDuration();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, absl::ToChronoMilliseconds(config_.scheduler.tick),
                   [&] { return wake_ || stopping_; });
      if (stopping_) return;
      // Pacing: every submit wakes the loop, and under a stream of them back-to-back passes
      // over a long queue would take a whole core from the API threads. After a pass of d,
      // the next starts no sooner than min(d, kMaxPacing) later; wakes meanwhile coalesce
      // into it. Idle, a pass takes about a millisecond, so nothing waits noticeably.
      const absl::Duration pause = std::min(last_pass, kMaxPacing);
      if (pause > absl::ZeroDuration()) {
        cv_.wait_for(lock, absl::ToChronoMicroseconds(pause), [&] { return stopping_; });
        if (stopping_) return;
      }
      wake_ = false;
    }
    const absl::Time start = absl::Now();
    Pass();
    last_pass = absl::Now() - start;
  }
}

void Scheduler::NoteChange(const std::string& channel, const std::string& payload) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (channel == "hai_admin") {
      admin_dirty_ = true;
      // The listener says "reconnected" on every connect; after the first, notifications
      // (an attempt's delete among them) may have been missed: reload everything.
      if (payload == "reconnected" && listener_connects_++ > 0) full_reload_ = true;
    } else if (absl::EndsWith(payload, ":deleted")) {
      int64_t id = 0;
      if (absl::SimpleAtoi(payload.substr(0, payload.find(':')), &id)) {
        deleted_attempts_.insert(id);
      }
    }
    wake_ = true;
  }
  cv_.notify_all();
}

bool Scheduler::RefreshState(absl::Time now) {
  bool admin_due = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t id : deleted_attempts_) open_.Recheck(id);
    deleted_attempts_.clear();
    if (full_reload_) open_.Invalidate();
    full_reload_ = false;
    admin_due = admin_dirty_ || now - admin_loaded_at_ >= kAdminRefresh;
    admin_dirty_ = false;
  }
  absl::Status s = open_.Refresh(store_);
  if (s.ok() && admin_due) {
    // The flag was cleared before these reads, so an edit notified while they run is
    // read again next pass rather than lost.
    auto hosts = store_.LoadHosts();
    auto rows = store_.LoadQuotaRows();
    auto groups = store_.LoadUserGroups();
    for (const absl::Status& st : {hosts.status(), rows.status(), groups.status()}) {
      if (s.ok()) s = st;
    }
    if (s.ok()) {
      hosts_ = *std::move(hosts);
      quota_rows_ = *std::move(rows);
      user_groups_ = *std::move(groups);
      admin_loaded_at_ = now;
      auto nodes = std::make_shared<std::vector<policy::Node>>(NodesOf(hosts_));
      snapshot_.SetNodes(*nodes);  // the API's copy and the core's
      std::lock_guard<std::mutex> lock(mu_);
      nodes_ = std::move(nodes);
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      admin_dirty_ = true;  // retry next pass
    }
  }
  if (!s.ok()) {
    // Postgres unreachable: nothing is decided; the next tick retries.
    HAI_LOG(WARNING) << "scheduling pass skipped: " << s;
    ++metrics_.scheduler_pass_errors;
    return false;
  }
  if (open_.last_full()) {
    HAI_LOG(INFO) << "loaded " << open_.attempts().size() << " open attempt(s) in "
                  << absl::ToInt64Milliseconds(absl::Now() - now) << " ms";
  }
  metrics_.last_refresh_rows = open_.last_rows();
  return true;
}

void Scheduler::Pass() {
  const absl::Time start = absl::Now();
  PassPhases phases;
  // Reap first: a manager commits its attempt's final state before it exits, so the load
  // below already shows those attempts as ended.
  for (const ManagerExit& e : launcher_.Reap()) {
    HAI_LOG(INFO) << "manager of attempt " << e.attempt_id << " (pid " << e.pid << ") exited with "
                  << e.exit_code;
  }
  if (!RefreshState(start)) return;
  const OpenAttemptMap& open = open_.attempts();
  const absl::Time loaded = absl::Now();
  metrics_.last_load_micros = absl::ToInt64Microseconds(loaded - start);
  // A chain stopped while its suspended attempt was being requeued: end it now.
  for (int64_t id : open_.stop_queued()) {
    (void)store_.RequestStop(open.at(id).chain.chain_id, "scheduler");
  }

  phases.Mark("load");
  policy::ResolvedQuota resolved = policy::ResolveQuota(quota_rows_, user_groups_, start);
  snapshot_.Sync(open_);
  snapshot_.SetQuota(resolved.quota);
  snapshot_.SetHolds(preemption_holds_);
  const policy::Snapshot& snapshot = snapshot_.snapshot();
  phases.Mark("snapshot");

  const absl::Time decide_start = absl::Now();
  policy::Plan plan = policy::Decide(snapshot, policy_config_, start);
  metrics_.last_decide_micros = absl::ToInt64Microseconds(absl::Now() - decide_start);
  phases.Mark("decide");

  ApplyPlan(plan, open);
  phases.Mark("apply");
  if (jupyter_ != nullptr) jupyter_->Run(hosts_, start);
  phases.Mark("jupyter");
  CheckNodeHealth();
  phases.Mark("health");
  preemption_holds_.clear();
  for (const policy::Pending& p : plan.pending) {
    if (policy::CarriesHold(p)) {
      preemption_holds_[p.attempt_id] = p.reserved_nodes;
    }
  }
  SuperviseManagers(start);
  phases.Mark("supervise");

  // Publish the views the API serves.
  auto pending = std::make_shared<PendingTable>();
  pending->Reserve(plan.pending.size());
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
  std::shared_ptr<const PendingTable> old_pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old_pending = std::exchange(pending_, std::move(pending));  // freed outside the lock
    quota_view_ = std::make_shared<const QuotaView>(std::move(qv));
    last_pass_ = absl::Now();
  }
  old_pending.reset();
  phases.Mark("publish");
  const int64_t micros = absl::ToInt64Microseconds(absl::Now() - start);
  if (micros > kSlowPassMicros && absl::Now() - last_slow_pass_log_ > absl::Seconds(10)) {
    last_slow_pass_log_ = absl::Now();
    HAI_LOG(INFO) << "slow pass: " << micros / 1000 << " ms (" << phases.Summary() << ") over "
                  << open.size() << " open attempts";
  }
  metrics_.last_pass_micros = micros;
  metrics_.pass_micros_total += micros;
  ++metrics_.scheduler_passes;
}

void Scheduler::ApplyPlan(const policy::Plan& plan, const OpenAttemptMap& open) {
  for (const policy::Demotion& d : plan.demotions) {
    absl::Status s = store_.SetAttemptTier(d.attempt_id, static_cast<int>(d.from),
                                           static_cast<int>(d.to), "ABOVE_NORMAL run time limit");
    if (!s.ok()) StaleDecision(d.attempt_id);
  }
  for (const policy::SuspendDecision& d : plan.suspends) {
    auto pre = open.find(d.preemptor_attempt_id);
    int64_t preemptor_chain = pre == open.end() ? 0 : pre->second.chain.chain_id;
    // Over-quota suspensions (no preemptor) are recorded as the quota's doing.
    const char* actor = d.kind == policy::SuspendKind::kOverQuota ? "quota" : "scheduler";
    absl::Status s = store_.RequestSuspend(d.victim_attempt_id, preemptor_chain, d.reason, actor);
    if (!s.ok()) {
      StaleDecision(d.victim_attempt_id);
      HAI_LOG(INFO) << "suspend of attempt " << d.victim_attempt_id << " not applied: " << s;
      continue;
    }
    ++metrics_.suspends_requested;
    HAI_LOG(INFO) << "suspending attempt " << d.victim_attempt_id << " for attempt "
                  << d.preemptor_attempt_id << ": " << d.reason;
    notifier_.NotifyManager(d.victim_attempt_id, "suspend");
  }
  for (const policy::StartDecision& d : plan.starts) {
    absl::Status s = store_.ScheduleAttempt(d.attempt_id, static_cast<int>(d.tier), d.placement);
    if (!s.ok()) {
      StaleDecision(d.attempt_id);
      HAI_LOG(INFO) << "start of attempt " << d.attempt_id << " not applied: " << s;
      continue;
    }
    ++metrics_.attempts_started;
    StartManager(d.attempt_id);
  }
}

void Scheduler::StaleDecision(int64_t attempt_id) {
  ++metrics_.stale_decisions;
  // Memory disagreed with Postgres about this attempt: read it again even if no change is
  // recorded for it (e.g. its row was deleted).
  open_.Recheck(attempt_id);
}

void Scheduler::CheckNodeHealth() {
  const int threshold = config_.scheduler.node_lost_ranks_unhealthy;
  if (threshold <= 0) return;
  auto marked = store_.MarkUnhealthyNodes(threshold);
  if (!marked.ok()) {
    HAI_LOG(WARNING) << "node health: " << marked.status();
    return;
  }
  for (const auto& [node, attempts] : *marked) {
    HAI_LOG(WARNING) << "node " << node << " marked unhealthy (ranks lost there); requeueing "
                     << attempts.size() << " task(s)";
    for (int64_t attempt : attempts) {
      const std::string why = absl::StrCat("node ", node, " is unhealthy");
      if (store_.RequestSuspend(attempt, 0, why, "scheduler").ok()) {
        notifier_.NotifyManager(attempt, "suspend");
      }
    }
  }
  // The next pass sees the node as unusable; wake it rather than wait for the tick.
  if (!marked->empty()) Wake();
}

void Scheduler::StartManager(int64_t attempt_id) {
  auto pid = launcher_.Launch(attempt_id);
  if (!pid.ok()) {
    HAI_LOG(ERROR) << "attempt " << attempt_id << ": " << pid.status();
    return;
  }
  ++metrics_.managers_launched;
  HAI_LOG(INFO) << "attempt " << attempt_id << ": manager pid " << *pid;
}

namespace {
// The host name managers record (manager/main.cc HostName), read once.
const std::string& ThisHost() {
  static const std::string* host = [] {
    char buf[256] = {};
    return new std::string(::gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "localhost");
  }();
  return *host;
}
}  // namespace

ManagerVerdict Scheduler::Judge(const store::AttemptRow& a, absl::Time now) const {
  return JudgeManager(a, now, config_.scheduler.manager_timeout, ThisHost(),
                      &Launcher::ProcessAlive);
}

bool Scheduler::ManagerLooksLost(const store::AttemptRow& a, absl::Time now) const {
  if (launcher_.HasLiveChild(a.attempt_id)) return false;
  return Judge(a, now) != ManagerVerdict::kAlive;
}

void Scheduler::RefreshManagerLiveness(absl::Time now) {
  std::vector<int64_t> suspects;
  for (int64_t id : open_.holding()) {
    if (ManagerLooksLost(open_.Find(id)->attempt, now)) suspects.push_back(id);
  }
  if (suspects.empty()) return;
  auto live = store_.LoadManagerLiveness(suspects);
  if (!live.ok()) {
    HAI_LOG(WARNING) << "manager liveness: " << live.status();
    return;
  }
  for (const auto& [id, l] : *live) {
    if (store::OpenAttempt* o = open_.Find(id); o != nullptr) {
      o->attempt.manager_pid = l.pid;
      o->attempt.manager_heartbeat_at = l.heartbeat_at;
      o->attempt.manager_host = l.host;
    }
  }
}

void Scheduler::SuperviseManagers(absl::Time now) {
  RefreshManagerLiveness(now);
  for (int64_t id : open_.holding()) {
    const store::AttemptRow& a = open_.Find(id)->attempt;
    if (launcher_.HasLiveChild(a.attempt_id)) continue;
    // Not our live child: a manager from an earlier haid, or one that died.
    bool alive = false;
    if (a.manager_pid.has_value()) {
      const ManagerVerdict verdict = Judge(a, now);
      alive = verdict == ManagerVerdict::kAlive;
      // Alive on this host but silent past the timeout: hung. Replace it.
      if (verdict == ManagerVerdict::kHung) kill(*a.manager_pid, SIGKILL);
    } else if (a.scheduled_at.has_value() && now - *a.scheduled_at < kManagerStartTimeout &&
               manager_restarts_.count(a.attempt_id) > 0) {
      alive = true;  // relaunched recently, not registered yet
    }
    if (alive) continue;
    int& restarts = manager_restarts_[a.attempt_id];
    if (a.manager_pid.has_value()) ++metrics_.managers_lost;
    if (restarts >= kMaxManagerRestarts) {
      HAI_LOG(ERROR) << "attempt " << a.attempt_id << ": manager lost " << restarts
                     << " times; failing the attempt";
      (void)store_.FailAttempt(a.attempt_id, absl::StrCat("its manager died ", restarts, " times"));
      continue;
    }
    ++restarts;
    HAI_LOG(WARNING) << "attempt " << a.attempt_id << " (" << model::Name(a.state)
                     << ") has no live manager; starting one to adopt its pods";
    StartManager(a.attempt_id);
  }
}

std::optional<PendingView> Scheduler::PendingFor(int64_t chain_id) const {
  std::shared_ptr<const PendingTable> table;
  {
    std::lock_guard<std::mutex> lock(mu_);
    table = pending_;
  }
  if (std::optional<PendingView> v = table->Find(chain_id)) return v;
  // A waiting Jupyter container's reason comes from its own pass (jupyter_pass.h).
  if (jupyter_ != nullptr) {
    if (std::optional<JupyterPendingView> j = jupyter_->PendingFor(chain_id)) {
      PendingView v;
      v.chain_id = chain_id;
      v.position = j->position;
      v.reason = j->reason;
      v.detail = j->detail;
      return v;
    }
  }
  return std::nullopt;
}

std::vector<PendingView> Scheduler::Queue() const {
  std::shared_ptr<const PendingTable> table;
  {
    std::lock_guard<std::mutex> lock(mu_);
    table = pending_;
  }
  std::vector<PendingView> out = table->All();
  std::sort(out.begin(), out.end(), [](const PendingView& a, const PendingView& b) {
    if (a.tier != b.tier) return a.tier > b.tier;
    if (a.position != b.position) return a.position < b.position;
    return a.chain_id < b.chain_id;
  });
  return out;
}

std::shared_ptr<const std::vector<policy::Node>> Scheduler::Nodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_;
}

QuotaView Scheduler::Quota() const { return *QuotaShared(); }

std::shared_ptr<const QuotaView> Scheduler::QuotaShared() const {
  std::lock_guard<std::mutex> lock(mu_);
  return quota_view_;
}

absl::Time Scheduler::LastPassAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_pass_;
}

}  // namespace hai
