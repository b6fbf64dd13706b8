// The attempt state machine; see lifecycle.h for the rules it implements.
#include "manager/lifecycle.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/model/states.h"
#include "manager/pod_env.h"
#include "manager/run_files.h"

namespace hai::manager {
namespace {

// " (why)" after an end reason when the runtime gave a cause (e.g. a Kubernetes message).
std::string InParentheses(const std::string& why) {
  return why.empty() ? "" : absl::StrCat(" (", why, ")");
}

// While terminating, ranks are polled faster than the heartbeat so the attempt ends (and its
// nodes are freed) soon after the last process is gone.
constexpr absl::Duration kTerminatePoll = absl::Milliseconds(100);

using model::AttemptState;
using model::PodState;

}  // namespace

std::string AttemptLogDir(const std::string& data_dir, int64_t chain_id, int attempt_no) {
  return absl::StrCat(data_dir, "/logs/", chain_id, "/", attempt_no);
}

std::string AttemptRunDir(const std::string& data_dir, int64_t attempt_id) {
  return absl::StrCat(data_dir, "/run/", attempt_id);
}

int AttemptLifecycle::Run() {
  const std::string run_dir = AttemptRunDir(opt_.data_dir, attempt_id_);
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) {
    HAI_LOG(ERROR) << "cannot create " << run_dir << ": " << ec.message();
    return 1;
  }
  // The token is written before the claim commits, so no committed hash ever lacks its file.
  const std::string token_path = run_dir + "/token";
  std::optional<std::string> token = ReadRunFile(token_path);
  const bool had_token = token.has_value() && !token->empty();
  if (!had_token) {
    token = NewToken();
    if (absl::Status s = WriteRunFile(token_path, *token); !s.ok()) {
      HAI_LOG(ERROR) << s;
      return 1;
    }
  }
  auto claim = store_.Claim(HashToken(*token));
  if (!claim.ok()) {
    HAI_LOG(ERROR) << "claim: " << claim.status();
    return 1;
  }
  if (claim->ended) {
    HAI_LOG(INFO) << "attempt " << attempt_id_ << " is " << claim->info.state << "; nothing to do";
    return 0;
  }
  const AttemptInfo& info = claim->info;
  self_requeues_ = info.self_requeues;
  if (info.state != AttemptState::kScheduled && info.task_token_hash != HashToken(*token)) {
    // Adoption without the original token: ranks started from now on get a new one; the
    // adopted ranks lose in-task control (they keep running).
    HAI_LOG(WARNING) << "task token file does not match; issuing a new token";
    if (absl::Status s = store_.SetTokenHash(HashToken(*token)); !s.ok()) {
      if (Superseded(s)) return Leave();
      HAI_LOG(WARNING) << s;
    }
  }
  if (info.kind == model::TaskKind::kJupyter) {
    // Fills claim->info.jupyter (port, workspace, notebook config) for Prepare below.
    auto pod =
        JupyterPod::Prepare(store_, opt_.data_dir, run_dir, opt_.jupyter, *token, &claim->info);
    if (!pod.ok()) {
      HAI_LOG(ERROR) << "jupyter: " << pod.status();
      return Finish(
          {AttemptState::kFailed, 127, absl::StrCat("jupyter: ", pod.status().message())});
    }
    jupyter_ = *std::move(pod);
  }
  if (absl::Status s = Prepare(info, *token); !s.ok()) {
    HAI_LOG(ERROR) << "prepare: " << s;
    return Finish({AttemptState::kFailed, 127, std::string(s.message())});
  }

  // Start or adopt every rank.
  for (const PodInfo& pod : info.pods) {
    if (superseded_) return Leave();
    Rank& r = ranks_[pod.rank];
    r.node = pod.node;
    r.waiting = pod.state == PodState::kStarting;
    const PodSpec& spec = specs_[pod.rank];
    if (model::IsEnded(pod.state)) {
      r.exited = r.gone = r.recorded = true;
      r.lost = pod.state == PodState::kLost;
      r.exit_code = pod.exit_code.value_or(pod.state == PodState::kSucceeded ? 0 : 1);
      continue;
    }
    // A rank may have been started by a manager that died before recording its pid in
    // Postgres; the pid file (written by the local runtime's rank process itself before it
    // runs anything, or by the manager right after the start) closes that window.
    std::optional<int64_t> pid = pod.pid;
    const std::string& pid_path = spec.pid_path;
    bool record_pid = false;
    if (!pid.has_value()) {
      int64_t saved = 0;
      std::optional<std::string> text = ReadRunFile(pid_path);
      if (text.has_value() && absl::SimpleAtoi(*text, &saved) && saved > 0) {
        pid = saved;
        record_pid = true;
      }
    }
    if (pid.has_value()) {
      absl::Status s = runtime_.Adopt(pod.rank, *pid, spec);
      if (s.ok()) {
        r.tracked = true;
        r.id = *pid;
        r.start_recorded = !record_pid;
        if (record_pid) {
          r.waiting = false;
          RecordStart(pod.rank, r);
        }
        HAI_LOG(INFO) << "adopted rank " << pod.rank << " (pid " << *pid << ")";
      } else {
        HAI_LOG(WARNING) << "rank " << pod.rank << " lost: " << s;
        r.exited = r.lost = r.gone = true;
      }
      continue;
    }
    // The intent is committed before the start, so a successor of a manager that dies from
    // here on knows the rank may exist. The runtime's Start is idempotent per rank (the local
    // runtime's pid file is created by the rank's own process, exclusively; Kubernetes names
    // the Pod after the attempt and rank), so the successor's Start adopts a rank that exists
    // instead of starting a second one.
    if (pod.start_generation.has_value()) {
      HAI_LOG(INFO) << "rank " << pod.rank << ": manager generation " << *pod.start_generation
                    << " meant to start it and recorded no id; adopting it if it exists";
    }
    switch (RecordIntent(pod.rank)) {
      case Intent::kRecorded: break;
      case Intent::kRankEnded:
        // Ended meanwhile (haid ended the attempt): never started; the heartbeat sees the end.
        r.exited = r.gone = r.recorded = r.lost = true;
        continue;
      case Intent::kLeave: return superseded_ ? Leave() : 0;
    }
    auto id = runtime_.Start(spec);
    if (!id.ok()) {
      HAI_LOG(ERROR) << "rank " << pod.rank << " failed to start: " << id.status();
      r.exited = r.gone = true;
      r.exit_code = 127;
      r.reason = absl::StrCat("could not start: ", id.status().message());
      continue;
    }
    r.tracked = true;
    r.id = *id;
    if (opt_.after_rank_start) opt_.after_rank_start(pod.rank);
    // The local runtime wrote it already; a runtime that does not gets it here.
    if (ReadRunFile(pid_path) != absl::StrCat(*id)) {
      if (absl::Status s = WriteRunFile(pid_path, absl::StrCat(*id)); !s.ok()) {
        HAI_LOG(WARNING) << s;
      }
    }
    // A runtime that prepares the rank first (Kubernetes: scheduling, image pull) reports it
    // not started yet; the row then says 'starting' until PollRanks sees it run.
    auto first = runtime_.Poll(pod.rank);
    r.waiting = first.ok() && first->phase == PodStatus::Phase::kRunning && !first->started;
    RecordStart(pod.rank, r);
  }
  if (superseded_) return Leave();
  if (absl::Status s = store_.AttemptRunning(); !s.ok()) {
    if (Superseded(s)) return Leave();
    HAI_LOG(WARNING) << "running: " << s;
  }

  ControlState ctl;
  while (true) {
    if (opt_.shutdown_requested && opt_.shutdown_requested()) {
      HAI_LOG(INFO) << "manager shutting down; ranks keep running for the next manager";
      return 0;
    }
    auto hb = store_.Heartbeat();
    if (Superseded(hb.status())) return Leave();
    if (hb.ok()) {
      if (hb->ended_elsewhere) {
        HAI_LOG(WARNING) << "attempt " << attempt_id_ << " was ended by haid; killing ranks";
        KillAllAndWait();
        return 0;
      }
      ctl = *hb;
    } else {
      // Postgres down: the ranks keep running; decisions wait for the truth.
      HAI_LOG(WARNING) << "heartbeat: " << hb.status();
    }
    PollRanks();
    RecordPods();
    if (superseded_) return Leave();
    if (jupyter_ != nullptr && !terminating_.has_value() &&
        Superseded(jupyter_->Tick(runtime_.ServiceHost()))) {
      return Leave();
    }
    if (hb.ok()) {
      if (std::optional<AttemptOutcome> done = Decide(ctl)) return Finish(*std::move(done));
    }
    if (terminating_.has_value() && clock_.Now() >= kill_at_) {
      for (auto& [rank, r] : ranks_) {
        if (r.tracked && !r.gone) (void)runtime_.Signal(rank, PodSignal::kKill);
      }
    }
    hints_.Wait(terminating_.has_value() ? std::min(kTerminatePoll, opt_.heartbeat)
                                         : opt_.heartbeat);
  }
}

bool AttemptLifecycle::Superseded(const absl::Status& s) {
  if (!IsSuperseded(s)) return false;
  if (!superseded_) {
    HAI_LOG(WARNING) << "attempt " << attempt_id_ << ": " << s.message();
  }
  superseded_ = true;
  return true;
}

int AttemptLifecycle::Leave() {
  // Another manager claimed the attempt: the ranks are its to adopt. Nothing is signalled,
  // released or written.
  HAI_LOG(WARNING) << "attempt " << attempt_id_
                   << " is owned by another manager; leaving its ranks alone";
  return 0;
}

AttemptLifecycle::Intent AttemptLifecycle::RecordIntent(int rank) {
  while (true) {
    absl::Status s = store_.PodStartIntended(rank);
    if (s.ok()) return Intent::kRecorded;
    if (Superseded(s)) return Intent::kLeave;
    if (absl::IsFailedPrecondition(s)) {
      HAI_LOG(WARNING) << "rank " << rank << " not started: " << s;
      return Intent::kRankEnded;
    }
    // Postgres unavailable: a rank is never started without its intent on record.
    HAI_LOG(WARNING) << "record rank " << rank << " start intent: " << s;
    if (opt_.shutdown_requested && opt_.shutdown_requested()) return Intent::kLeave;
    clock_.SleepFor(opt_.heartbeat);
  }
}

absl::Status AttemptLifecycle::Prepare(const AttemptInfo& info, const std::string& token) {
  const std::string log_dir = AttemptLogDir(opt_.data_dir, info.chain_id, info.attempt_no);
  const std::string run_dir = AttemptRunDir(opt_.data_dir, attempt_id_);
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", log_dir, ": ", ec.message()));
  // Every rank of an attempt must agree on the port, including ranks started after adoption.
  const std::string port_path = run_dir + "/master_port";
  int port = 0;
  std::optional<std::string> saved = ReadRunFile(port_path);
  if (!saved.has_value() || !absl::SimpleAtoi(*saved, &port)) {
    auto picked = PickFreePort();
    if (!picked.ok()) return picked.status();
    port = *picked;
    if (absl::Status s = WriteRunFile(port_path, absl::StrCat(port)); !s.ok()) return s;
  }
  auto argv = BuildPodArgv(info);
  if (!argv.ok()) return argv.status();
  PodEnvContext ctx;
  ctx.world_size = static_cast<int>(info.pods.size());
  ctx.master_port = port;
  ctx.control_url = opt_.control_url;
  ctx.ca_file = opt_.ca_file;
  ctx.task_token = token;
  ctx.log_dir = log_dir;
  std::string master_node;
  for (const PodInfo& pod : info.pods) {
    if (pod.rank == 0) master_node = pod.node;
  }
  for (const PodInfo& pod : info.pods) {
    PodSpec spec;
    spec.rank = pod.rank;
    spec.node = pod.node;
    spec.gpus = pod.gpus;
    spec.argv = *argv;
    spec.env = BuildPodEnv(info, pod, ctx, opt_.manager_environ);
    spec.cwd = PodWorkdir(info);
    spec.required_file = ResolvedEntrypoint(info);
    spec.log_path = absl::StrCat(log_dir, "/rank-", pod.rank, ".log");
    spec.exit_path = absl::StrCat(run_dir, "/rank-", pod.rank, ".exit");
    spec.pid_path = absl::StrCat(run_dir, "/rank-", pod.rank, ".pid");
    spec.mounts = info.mounts;
    spec.attempt_id = info.attempt_id;
    spec.chain_id = info.chain_id;
    spec.attempt_no = info.attempt_no;
    spec.user = info.user_name;
    spec.task_name = info.chain_name;
    spec.world_size = ctx.world_size;
    spec.master_port = port;
    spec.master_node = master_node;
    spec.image = info.image;
    // 0 when the user has no row: the local runtime refuses to run that as root.
    spec.uid = info.user_uid;
    spec.gid = info.user_gid > 0 ? info.user_gid : info.user_uid;
    spec.supplementary_gids = info.user_supplementary_gids;
    if (jupyter_ != nullptr) jupyter_->ApplyTo(&spec);
    specs_[pod.rank] = std::move(spec);
  }
  return absl::OkStatus();
}

void AttemptLifecycle::PollRanks() {
  for (auto& [rank, r] : ranks_) {
    if (!r.tracked || r.gone) continue;
    auto st = runtime_.Poll(rank);
    if (!st.ok()) {
      HAI_LOG(WARNING) << "poll rank " << rank << ": " << st.status();
      continue;
    }
    r.gone = !st->alive;
    if (r.exited) continue;
    if (st->phase == PodStatus::Phase::kRunning && st->started == r.waiting) {
      // An unrecorded start is written with the current phase when it is retried.
      if (!r.start_recorded) {
        r.waiting = !st->started;
      } else if (absl::Status s = store_.PodWaiting(rank, !st->started); s.ok()) {
        r.waiting = !st->started;
      } else if (Superseded(s)) {
        return;
      }
    }
    if (st->phase == PodStatus::Phase::kExited) {
      r.exited = true;
      r.exit_code = st->exit_code;
      r.reason = st->reason;
      r.self_inflicted = st->self_inflicted;
      r.exited_before_terminate = !terminating_.has_value();
      HAI_LOG(INFO) << "rank " << rank << " exited with code " << r.exit_code
                    << (r.reason.empty() ? "" : ": ") << r.reason;
    } else if (st->phase == PodStatus::Phase::kLost) {
      r.exited = r.lost = true;
      // A rank we SIGKILLed has no exit file; that is the kill, not a loss.
      r.exit_code = 137;
      r.reason = st->reason;
      HAI_LOG(INFO) << "rank " << rank << " ended without an exit status"
                    << (r.reason.empty() ? "" : ": ") << r.reason;
    }
  }
}

void AttemptLifecycle::RecordStart(int rank, Rank& r) {
  absl::Status s = store_.PodStarted(rank, r.id, r.waiting);
  r.start_recorded = s.ok();
  if (!s.ok() && !Superseded(s)) {
    HAI_LOG(WARNING) << "record rank " << rank << " start: " << s;
  }
}

void AttemptLifecycle::RecordPods() {
  for (auto& [rank, r] : ranks_) {
    // A start Postgres missed (it was unreachable) is retried, so the row gets its id.
    if (r.tracked && !r.start_recorded && !r.exited) RecordStart(rank, r);
    if (superseded_) return;
  }
  for (auto& [rank, r] : ranks_) {
    if (!r.exited || r.recorded) continue;
    PodState state;
    std::optional<int> code = r.exit_code;
    if (terminating_.has_value() && !r.exited_before_terminate) {
      state = PodState::kStopped;
    } else if (r.lost) {
      state = PodState::kLost;
      code.reset();
    } else {
      state = r.exit_code == 0 ? PodState::kSucceeded : PodState::kFailed;
    }
    absl::Status s = store_.PodEnded(rank, state, code);
    if (s.ok()) r.recorded = true;
    if (Superseded(s)) return;
  }
}

void AttemptLifecycle::BeginTerminate(AttemptOutcome outcome) {
  HAI_LOG(INFO) << "terminating ranks (" << model::Name(outcome.state) << ": " << outcome.end_reason
                << ")";
  terminating_ = std::move(outcome);
  kill_at_ = clock_.Now() + opt_.kill_grace;
  for (auto& [rank, r] : ranks_) {
    if (r.tracked && !r.gone) (void)runtime_.Signal(rank, PodSignal::kTerminate);
  }
}

std::optional<AttemptOutcome> AttemptLifecycle::Decide(const ControlState& ctl) {
  bool all_gone = true;
  bool all_ok = true;
  const Rank* failed = nullptr;
  int failed_rank = -1;
  for (const auto& [rank, r] : ranks_) {
    all_gone = all_gone && r.gone;
    all_ok = all_ok && r.exited && !r.lost && r.exit_code == 0;
    if (failed == nullptr && r.exited && (r.lost || r.exit_code != 0)) {
      failed = &r;
      failed_rank = rank;
    }
  }
  // The task checkpointed (go_suspend) or had its grace: the suspension is due.
  const bool suspend_due =
      ctl.suspend_requested && (ctl.go_suspend || ctl.seconds_since_suspend_request >=
                                                      absl::ToDoubleSeconds(opt_.suspend_grace));
  if (!terminating_.has_value()) {
    if (ctl.stop_requested) {
      const std::string actor = store_.StopActor();
      BeginTerminate({AttemptState::kStopped, std::nullopt,
                      absl::StrCat("stopped by ", actor.empty() ? "user" : actor)});
    } else if (failed != nullptr && failed->lost) {
      // A rank that vanished without an exit status is the node's failure, not the task's:
      // the attempt is requeued (like a suspension) and haid counts the loss against the node.
      BeginTerminate({AttemptState::kSuspended, std::nullopt,
                      absl::StrCat("rank ", failed_rank, " was lost on node ", failed->node,
                                   InParentheses(failed->reason), "; requeued")});
    } else if (failed != nullptr && failed->self_inflicted && !suspend_due) {
      // The task killed itself (its own process group, its own OOM). Not the node's fault, so
      // the pods row says failed and node health never sees it; requeued like a loss (memory
      // pressure may be transient) but only max_self_requeues times per chain, so a task
      // cannot loop forever.
      const std::string what = absl::StrCat("rank ", failed_rank, " exited with code ",
                                            failed->exit_code, InParentheses(failed->reason));
      if (self_requeues_ < opt_.max_self_requeues) {
        BeginTerminate({AttemptState::kSuspended, std::nullopt,
                        absl::StrCat(what, "; requeued (self-inflicted end ", self_requeues_ + 1,
                                     " of at most ", opt_.max_self_requeues, " in this chain)"),
                        /*self_inflicted=*/true});
      } else {
        BeginTerminate({AttemptState::kFailed, failed->exit_code,
                        absl::StrCat(what,
                                     "; failed: the chain's self-inflicted ends reached "
                                     "scheduler.max_self_requeues = ",
                                     opt_.max_self_requeues)});
      }
    } else if (failed != nullptr && !suspend_due) {
      // Once the suspension is due, a non-zero exit is part of it (the task's own shutdown
      // after go_suspend, or the SIGTERM of a manager replaced while terminating), so the
      // attempt is suspended below rather than failed.
      BeginTerminate({AttemptState::kFailed, failed->exit_code,
                      absl::StrCat("rank ", failed_rank, " exited with code ", failed->exit_code,
                                   InParentheses(failed->reason))});
    } else if (all_ok) {
      // Stragglers of finished ranks still hold the nodes: terminate them, then succeed.
      if (all_gone)
        return AttemptOutcome{AttemptState::kSucceeded, 0, "all ranks exited with code 0"};
      BeginTerminate({AttemptState::kSucceeded, 0, "all ranks exited with code 0"});
    } else if (suspend_due) {
      BeginTerminate(
          {AttemptState::kSuspended, std::nullopt,
           absl::StrCat(
               "suspended: ", ctl.suspend_reason.empty() ? "suspend requested" : ctl.suspend_reason,
               ctl.go_suspend ? " (task called go_suspend)" : " (suspend grace elapsed)")});
    }
    return std::nullopt;
  }
  if (!all_gone) return std::nullopt;
  AttemptOutcome out = *terminating_;
  bool all_ok_first = true;
  for (const auto& [rank, r] : ranks_) {
    all_ok_first = all_ok_first && r.exited_before_terminate && r.exit_code == 0 && !r.lost;
  }
  if (out.state == AttemptState::kSuspended && ctl.stop_requested) {
    const std::string actor = store_.StopActor();
    out = {AttemptState::kStopped, std::nullopt,
           absl::StrCat("stopped by ", actor.empty() ? "user" : actor)};
  }
  if (all_ok_first &&
      (out.state == AttemptState::kSuspended || out.state == AttemptState::kStopped)) {
    out = {AttemptState::kSucceeded, 0, "all ranks exited with code 0"};
  }
  return out;
}

int AttemptLifecycle::Finish(AttemptOutcome outcome) {
  bool released = false;
  while (true) {
    // Only the attempt's current manager releases and ends it (checked again right before:
    // a successor may have claimed it since the last heartbeat).
    auto owner = store_.Heartbeat();
    if (Superseded(owner.status())) return Leave();
    if (owner.ok() && !released) {
      // Every rank is gone: per-attempt objects of the runtime go now, before the outcome is
      // written, so an ended attempt leaves nothing behind (a failure is only logged: the
      // outcome must still be recorded).
      if (absl::Status s = runtime_.Release(); !s.ok()) {
        HAI_LOG(WARNING) << "release: " << s;
      }
      released = true;
    }
    absl::StatusOr<model::AttemptState> written =
        owner.ok() ? store_.Finish(outcome) : absl::StatusOr<model::AttemptState>(owner.status());
    if (written.ok()) {
      HAI_LOG(INFO) << "attempt " << attempt_id_ << " " << model::Name(*written) << ": "
                    << outcome.end_reason;
      return 0;
    }
    if (Superseded(written.status())) return Leave();
    if (absl::IsFailedPrecondition(written.status())) {
      HAI_LOG(WARNING) << "attempt " << attempt_id_ << " had already ended";
      return 0;
    }
    // Postgres unavailable: the outcome is only ours to write, so keep trying.
    HAI_LOG(WARNING) << "finish: " << written.status();
    if (opt_.shutdown_requested && opt_.shutdown_requested()) return 1;
    clock_.SleepFor(opt_.heartbeat);
  }
}

void AttemptLifecycle::KillAllAndWait() {
  for (auto& [rank, r] : ranks_) {
    if (r.tracked && !r.gone) (void)runtime_.Signal(rank, PodSignal::kKill);
  }
  const absl::Time deadline = clock_.Now() + opt_.kill_grace;
  while (clock_.Now() < deadline) {
    PollRanks();
    bool all_gone = true;
    for (const auto& [rank, r] : ranks_) all_gone = all_gone && (r.gone || !r.tracked);
    if (all_gone) break;
    clock_.SleepFor(kTerminatePoll);
  }
  if (absl::Status s = runtime_.Release(); !s.ok()) {
    HAI_LOG(WARNING) << "release: " << s;
  }
}

}  // namespace hai::manager
