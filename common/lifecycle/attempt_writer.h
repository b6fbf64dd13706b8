// The one writer of attempt endings, requeues and chain closings, shared by haid (a user's
// stop or hold, a failed manager) and hai-manager (the attempt's own end). Each function runs
// inside the caller's transaction and takes the row locks in the system's one order (chain
// row, then attempt row), so a manager finishing and a user stopping the same chain
// serialise. Illegal transitions are refused here, with the typed FailedPrecondition of
// model::CheckTransition, whoever asks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "common/model/states.h"

namespace hai::lifecycle {

// How an attempt ends, as its writer saw it.
struct Ending {
  model::AttemptState state = model::AttemptState::kFailed;  // must be an ended state
  std::optional<int> exit_code;
  std::string reason;  // human text: attempts.end_reason and the event's detail
  std::string actor;   // task_events.actor
  // What the attempt's live pods become: kStopped when their processes are known gone (the
  // manager stopped them), kLost when nobody can tell (haid gave up on the manager).
  model::PodState live_pods_become = model::PodState::kStopped;
  // A suspension because the task ended itself (killed by a signal hai did not send): when
  // the chain is requeued, chains.self_requeues counts it (the manager fails the chain
  // instead once that reaches scheduler.max_self_requeues).
  bool self_inflicted = false;
};

// What EndAttempt wrote.
struct Ended {
  int64_t chain_id = 0;
  // The state written: a suspension becomes kStopped when the chain's stop was requested
  // meanwhile (stop wins over suspend: a stopped chain is never requeued).
  model::AttemptState state = model::AttemptState::kFailed;
  std::string reason;
  bool chain_closed = false;        // the chain got its final state
  std::optional<int64_t> requeued;  // the new queued attempt, when requeued
};

// Ends `attempt_id`: locks its chain and the attempt, checks the transition, writes the end
// (state, exit code, reason, ended_at), ends its live pods, appends the event named after the
// state, then closes the chain (succeeded/failed/stopped) or requeues it (suspended, unless
// the chain is held). NotFound when the attempt is absent; FailedPrecondition when it has
// already ended or the transition is illegal (nothing is written then).
absl::StatusOr<Ended> EndAttempt(pqxx::work& tx, int64_t attempt_id, const Ending& ending);

// Appends a new queued attempt to the chain after `after_attempt_id` (attempt_no + 1), with
// the tier of model::RequeueTier; first_submit_at and whole_life_state live on the chain row,
// so the chain keeps its place and its state. Appends a `requeued` event. Returns its id.
// The caller holds the chain row lock and has checked the chain is open and not held.
int64_t RequeueChain(pqxx::work& tx, int64_t chain_id, int64_t after_attempt_id,
                     const std::string& actor);

// Gives an open chain its final state (no-op when it already has one).
void CloseChain(pqxx::work& tx, int64_t chain_id, model::ChainState final_state,
                std::optional<int> exit_code);

}  // namespace hai::lifecycle
