// The in-memory AttemptStore (fake_attempt_store.h), mirroring PgAttemptStore's contract.
#include "test/unit/manager/fake_attempt_store.h"

#include "absl/strings/str_cat.h"

namespace hai::manager::testing {

using model::AttemptState;
using model::PodState;

absl::Status FakeAttemptStore::Down() const {
  return unavailable ? absl::UnavailableError("database down") : absl::OkStatus();
}

absl::Status FakeAttemptStore::Owner(const std::string& write) {
  if (on_write) on_write(write);
  if (held_generation == generation) return absl::OkStatus();
  superseded_writes.push_back(write);
  return ManagerSuperseded(held_generation, generation);
}

absl::Status FakeAttemptStore::Check(PodState from, PodState to, int rank) {
  absl::Status s = model::CheckTransition(from, to);
  if (!s.ok()) refusals.push_back(absl::StrCat("rank ", rank, ": ", s.message()));
  return s;
}

absl::Status FakeAttemptStore::Check(AttemptState from, AttemptState to) {
  absl::Status s = model::CheckTransition(from, to);
  if (!s.ok()) refusals.push_back(std::string(s.message()));
  return s;
}

PodInfo* FakeAttemptStore::FindPod(int rank) {
  for (PodInfo& p : attempt.pods) {
    if (p.rank == rank) return &p;
  }
  return nullptr;
}

void FakeAttemptStore::EndElsewhere(AttemptState state) {
  attempt.state = state;
  for (PodInfo& p : attempt.pods) {
    if (model::IsLive(p.state)) p.state = PodState::kLost;
  }
  events.push_back(std::string(model::Name(state)));
}

absl::StatusOr<ClaimResult> FakeAttemptStore::Claim(const std::string& token_hash) {
  if (absl::Status s = Down(); !s.ok()) return s;
  ClaimResult result;
  result.info = attempt;
  if (!model::HoldsNodes(attempt.state)) {
    result.ended = true;
    return result;
  }
  if (attempt.pods.empty()) return absl::FailedPreconditionError("attempt has no pods rows");
  held_generation = result.generation = ++generation;
  if (attempt.state == AttemptState::kScheduled) {
    if (absl::Status s = Check(attempt.state, AttemptState::kStarting); !s.ok()) return s;
    attempt.state = AttemptState::kStarting;
    attempt.task_token_hash = result.info.task_token_hash = token_hash;
    events.push_back("starting");
  } else {
    events.push_back("manager_adopted");
  }
  return result;
}

absl::Status FakeAttemptStore::SetTokenHash(const std::string& token_hash) {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("set_token_hash"); !s.ok()) return s;
  attempt.task_token_hash = token_hash;
  return absl::OkStatus();
}

absl::StatusOr<ControlState> FakeAttemptStore::Heartbeat() {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("heartbeat"); !s.ok()) return s;
  ControlState c;
  c.ended_elsewhere = model::IsEnded(attempt.state);
  c.stop_requested = stop_requested;
  c.suspend_requested = suspend_requested_at.has_value();
  c.suspend_reason = suspend_reason;
  c.go_suspend = go_suspend;
  if (suspend_requested_at.has_value()) {
    c.seconds_since_suspend_request = absl::ToDoubleSeconds(clock_.Now() - *suspend_requested_at);
  }
  return c;
}

absl::Status FakeAttemptStore::PodStartIntended(int rank) {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("pod_start_intended"); !s.ok()) return s;
  PodInfo* pod = FindPod(rank);
  if (pod == nullptr) return absl::NotFoundError(absl::StrCat("no rank ", rank));
  // Ended by haid meanwhile: the expected race, not the lifecycle's mistake.
  if (model::IsEnded(pod->state)) return absl::FailedPreconditionError("pod ended");
  pod->start_generation = held_generation;
  return absl::OkStatus();
}

absl::Status FakeAttemptStore::PodStarted(int rank, int64_t runtime_id, bool waiting) {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("pod_started"); !s.ok()) return s;
  if (pod_started_unavailable > 0) {
    --pod_started_unavailable;
    return absl::UnavailableError("database down");
  }
  PodInfo* found = FindPod(rank);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("no rank ", rank));
  PodInfo& pod = *found;
  const PodState to = waiting ? PodState::kStarting : PodState::kRunning;
  if (pod.state != to) {
    if (absl::Status s = Check(pod.state, to, rank); !s.ok()) return s;
  }
  pod.state = to;
  pod.pid = runtime_id;
  events.push_back("pod_started");
  return absl::OkStatus();
}

absl::Status FakeAttemptStore::PodWaiting(int rank, bool waiting) {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("pod_waiting"); !s.ok()) return s;
  PodInfo* found = FindPod(rank);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("no rank ", rank));
  PodInfo& pod = *found;
  const PodState to = waiting ? PodState::kStarting : PodState::kRunning;
  if (pod.state == to) return absl::OkStatus();
  if (pod.state != PodState::kStarting && pod.state != PodState::kRunning) {
    refusals.push_back(
        absl::StrCat("rank ", rank, " is ", std::string(model::Name(pod.state)), ", not started"));
    return absl::FailedPreconditionError(refusals.back());
  }
  if (absl::Status s = Check(pod.state, to, rank); !s.ok()) return s;
  pod.state = to;
  return absl::OkStatus();
}

absl::Status FakeAttemptStore::AttemptRunning() {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("attempt_running"); !s.ok()) return s;
  if (attempt.state != AttemptState::kStarting) return absl::OkStatus();
  attempt.state = AttemptState::kRunning;
  events.push_back("started");
  return absl::OkStatus();
}

absl::Status FakeAttemptStore::PodEnded(int rank, PodState state, std::optional<int> exit_code) {
  if (!model::IsEnded(state)) return absl::InvalidArgumentError("PodEnded needs an ended state");
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("pod_ended"); !s.ok()) return s;
  PodInfo* found = FindPod(rank);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("no rank ", rank));
  PodInfo& pod = *found;
  if (absl::Status s = Check(pod.state, state, rank); !s.ok()) return s;
  pod.state = state;
  pod.exit_code = exit_code;
  events.push_back("pod_ended");
  return absl::OkStatus();
}

absl::StatusOr<AttemptState> FakeAttemptStore::Finish(const AttemptOutcome& outcome) {
  ++finish_calls;
  if (on_finish) on_finish();
  if (absl::Status s = Down(); !s.ok()) return s;
  if (finish_unavailable > 0) {
    --finish_unavailable;
    return absl::UnavailableError("database down");
  }
  if (absl::Status s = Owner("finish"); !s.ok()) return s;
  if (!model::IsEnded(outcome.state)) return absl::InvalidArgumentError("not an ended state");
  // Already ended (haid ended it meanwhile): the expected race, not the lifecycle's mistake.
  if (model::IsEnded(attempt.state)) return absl::FailedPreconditionError("already ended");
  AttemptOutcome written = outcome;
  if (written.state == AttemptState::kSuspended && stop_requested) {
    written.state = AttemptState::kStopped;
    written.end_reason += "; stop requested";
  }
  if (absl::Status s = Check(attempt.state, written.state); !s.ok()) return s;
  attempt.state = written.state;
  for (PodInfo& p : attempt.pods) {
    if (model::IsLive(p.state)) p.state = PodState::kStopped;
  }
  events.push_back(std::string(model::Name(written.state)));
  if (written.state == AttemptState::kSuspended && !chain_hold) {
    requeued = true;
    events.push_back("requeued");
    if (written.self_inflicted) ++attempt.self_requeues;  // chains.self_requeues
  }
  finish = written;
  return written.state;
}

absl::StatusOr<JupyterPodInfo> FakeAttemptStore::LoadJupyter() {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (!jupyter.has_value()) return absl::NotFoundError("no container row");
  return *jupyter;
}

absl::Status FakeAttemptStore::ReportJupyterAddress(const std::string& host, int port) {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("jupyter_address"); !s.ok()) return s;
  jupyter_reports.push_back(absl::StrCat("address ", host, ":", port));
  return absl::OkStatus();
}

absl::Status FakeAttemptStore::ReportJupyterStatus(std::optional<absl::Time> activity) {
  if (absl::Status s = Down(); !s.ok()) return s;
  if (absl::Status s = Owner("jupyter_status"); !s.ok()) return s;
  jupyter_reports.push_back(
      absl::StrCat("status ", activity.has_value() ? absl::FormatTime(*activity) : "none"));
  return absl::OkStatus();
}

}  // namespace hai::manager::testing
