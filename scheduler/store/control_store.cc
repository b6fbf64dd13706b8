// User control of a chain (stop, hold/resume, priority) and in-task control (go_suspend,
// whole_life_state). Each operation locks the chain row first, so it serialises with a
// manager finishing an attempt of the same chain.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/lifecycle/attempt_writer.h"
#include "common/lifecycle/task_events.h"
#include "common/model/sql_sets.h"
#include "common/model/states.h"
#include "scheduler/store/row_mapping.h"
#include "scheduler/store/store.h"

namespace hai::store {
namespace {

using lifecycle::AddEvent;
using model::AttemptState;

struct LockedChain {
  bool finished = false;
  int priority = 0;
  int64_t attempt_id = 0;  // current attempt
  int attempt_no = 0;
  std::optional<AttemptState> attempt_state;  // nullopt: the chain has no attempt
};

absl::StatusOr<LockedChain> LockChain(pqxx::work& tx, int64_t chain_id) {
  auto c = tx.exec_params(
      "SELECT final_state IS NOT NULL, priority FROM chains WHERE chain_id = $1 FOR UPDATE",
      chain_id);
  if (c.empty()) return absl::NotFoundError(absl::StrCat("no task with id ", chain_id));
  LockedChain l;
  l.finished = c[0][0].as<bool>();
  l.priority = c[0][1].as<int>();
  auto a = tx.exec_params(
      "SELECT attempt_id, attempt_no, state FROM attempts WHERE chain_id = $1 "
      "ORDER BY attempt_no DESC LIMIT 1",
      chain_id);
  if (!a.empty()) {
    l.attempt_id = a[0][0].as<int64_t>();
    l.attempt_no = a[0][1].as<int>();
    const std::string state = a[0][2].as<std::string>();
    l.attempt_state = model::ParseAttemptState(state);
    if (!l.attempt_state.has_value()) {
      return absl::InternalError(
          absl::StrCat("attempt ", l.attempt_id, " has unknown state '", state, "'"));
    }
  }
  return l;
}

bool Is(const LockedChain& l, AttemptState s) { return l.attempt_state == s; }
bool Holding(const LockedChain& l) {
  return l.attempt_state.has_value() && model::HoldsNodes(*l.attempt_state);
}

}  // namespace

absl::StatusOr<StopOutcome> Store::RequestStop(int64_t chain_id, const std::string& actor) {
  StopOutcome outcome = StopOutcome::kAlreadyOver;
  absl::Status s = pool_->Write("stop", [&](pqxx::work& tx) -> absl::Status {
    auto locked = LockChain(tx, chain_id);
    if (!locked.ok()) return locked.status();
    if (locked->finished) return absl::OkStatus();
    tx.exec_params("UPDATE chains SET stop_requested = true WHERE chain_id = $1", chain_id);
    if (Holding(*locked)) {
      tx.exec_params(
          "UPDATE attempts SET stop_requested_at = coalesce(stop_requested_at, "
          "clock_timestamp()) WHERE attempt_id = $1",
          locked->attempt_id);
      AddEvent(tx, chain_id, locked->attempt_id, "stop_requested", actor);
      outcome = StopOutcome::kStopRequested;
      return absl::OkStatus();
    }
    // Nothing holds nodes: end the chain here, through the one writer of endings.
    if (Is(*locked, AttemptState::kQueued)) {
      auto ended =
          lifecycle::EndAttempt(tx, locked->attempt_id,
                                {.state = AttemptState::kStopped,
                                 .reason = absl::StrCat("stopped by ", actor, " while queued"),
                                 .actor = actor});
      if (!ended.ok()) return ended.status();
    } else {
      // Held (its last attempt suspended) or without attempts: only the chain is open.
      lifecycle::CloseChain(tx, chain_id, model::ChainState::kStopped, std::nullopt);
      AddEvent(tx, chain_id, locked->attempt_id, "stopped", actor);
    }
    outcome = StopOutcome::kStoppedNow;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return outcome;
}

absl::StatusOr<int64_t> Store::HoldChain(int64_t chain_id, const std::string& actor) {
  int64_t to_notify = 0;
  absl::Status s = pool_->Write("suspend", [&](pqxx::work& tx) -> absl::Status {
    auto locked = LockChain(tx, chain_id);
    if (!locked.ok()) return locked.status();
    if (locked->finished) {
      return absl::FailedPreconditionError(absl::StrCat("task ", chain_id, " has finished"));
    }
    tx.exec_params("UPDATE chains SET hold = true WHERE chain_id = $1", chain_id);
    if (Holding(*locked)) {
      tx.exec_params(
          "UPDATE attempts SET suspend_requested_at = coalesce(suspend_requested_at, "
          "clock_timestamp()), suspend_reason = $2 WHERE attempt_id = $1",
          locked->attempt_id, absl::StrCat("suspended by ", actor));
      to_notify = locked->attempt_id;
    } else if (Is(*locked, AttemptState::kQueued)) {
      // The chain is held (above), so the one writer ends the attempt without a requeue.
      auto ended =
          lifecycle::EndAttempt(tx, locked->attempt_id,
                                {.state = AttemptState::kSuspended,
                                 .reason = absl::StrCat("held by ", actor, " while queued"),
                                 .actor = actor});
      if (!ended.ok()) return ended.status();
    }
    AddEvent(tx, chain_id, locked->attempt_id, "hold", actor);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return to_notify;
}

absl::Status Store::ResumeChain(int64_t chain_id, const std::string& actor) {
  return pool_->Write("resume", [&](pqxx::work& tx) -> absl::Status {
    auto locked = LockChain(tx, chain_id);
    if (!locked.ok()) return locked.status();
    if (locked->finished) {
      return absl::FailedPreconditionError(absl::StrCat("task ", chain_id, " has finished"));
    }
    tx.exec_params("UPDATE chains SET hold = false WHERE chain_id = $1", chain_id);
    if (Is(*locked, AttemptState::kSuspended)) {
      lifecycle::RequeueChain(tx, chain_id, locked->attempt_id, actor);
    }
    AddEvent(tx, chain_id, locked->attempt_id, "resume", actor);
    return absl::OkStatus();
  });
}

absl::Status Store::SetChainPriority(int64_t chain_id, int priority, const std::string& actor) {
  return pool_->Write("set priority", [&](pqxx::work& tx) -> absl::Status {
    auto locked = LockChain(tx, chain_id);
    if (!locked.ok()) return locked.status();
    if (locked->finished) {
      return absl::FailedPreconditionError(absl::StrCat("task ", chain_id, " has finished"));
    }
    tx.exec_params("UPDATE chains SET priority = $2 WHERE chain_id = $1", chain_id, priority);
    // A queued attempt takes the new tier now (AUTO is resolved at start); a running one
    // runs at the new tier from now on, which changes whom it may preempt or be preempted by.
    if (Is(*locked, AttemptState::kQueued) || (Holding(*locked) && priority >= 0)) {
      tx.exec_params("UPDATE attempts SET tier = $2 WHERE attempt_id = $1", locked->attempt_id,
                     priority);
    }
    AddEvent(tx, chain_id, locked->attempt_id, "priority_changed", actor,
             nlohmann::json{{"priority", priority}, {"was", locked->priority}});
    return absl::OkStatus();
  });
}

absl::StatusOr<OpenAttempt> Store::AttemptForTaskToken(int64_t attempt_id,
                                                       const std::string& token_hash) {
  std::optional<OpenAttempt> found;
  absl::Status s = pool_->Read("task token", [&](pqxx::read_transaction& tx) {
    auto r = tx.exec_params(
        absl::StrCat("SELECT ", kAttemptColumns, ", ", kChainColumns,
                     " FROM attempts a JOIN chains c USING (chain_id) "
                     "WHERE a.attempt_id = $1 AND a.task_token_hash = $2 "
                     "AND a.task_token_hash <> ''"),
        attempt_id, token_hash);
    if (!r.empty()) found = OpenAttempt{AttemptFromRow(r[0]), ChainFromRow(r[0])};
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) return absl::PermissionDeniedError("task token does not match this task");
  // A task token dies with its attempt: once the attempt ended, nothing it left behind (a
  // straggler, a copied token) acts for the task any more.
  if (!model::IsOpen(found->attempt.state)) {
    return absl::UnauthenticatedError("task token expired: the task attempt has ended");
  }
  return *std::move(found);
}

absl::Status Store::CheckJupyterAccess(int64_t attempt_id, const std::string& access_token_hash) {
  std::optional<absl::Status> verdict;
  absl::Status s = pool_->Read("jupyter access", [&](pqxx::read_transaction& tx) {
    auto r = tx.exec_params(
        "SELECT j.access_token_hash, j.owner_token_hash, u.token_hash, u.active "
        "FROM attempts a JOIN chains c USING (chain_id) "
        "JOIN jupyter_containers j USING (chain_id) "
        "JOIN users u ON u.user_name = c.user_name WHERE a.attempt_id = $1",
        attempt_id);
    if (r.empty()) {
      verdict = absl::PermissionDeniedError("not a Jupyter container");
      return absl::OkStatus();
    }
    const std::string access = r[0][0].as<std::string>();
    const std::string derived_from = r[0][1].as<std::string>();
    const std::string owner_now = r[0][2].as<std::string>();
    if (access.empty() || access != access_token_hash) {
      verdict = absl::PermissionDeniedError("not this container's access token");
    } else if (!r[0][3].as<bool>()) {
      verdict = absl::PermissionDeniedError("the container's owner is disabled");
    } else if (owner_now != derived_from) {
      verdict = absl::PermissionDeniedError(
          "the owner's API token was rotated since this URL was issued: ask `hai-cli jupyter "
          "url` for a new one");
    } else {
      verdict = absl::OkStatus();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return *verdict;
}

absl::Status Store::MarkGoSuspend(int64_t attempt_id) {
  return pool_->Write("go_suspend", [&](pqxx::work& tx) -> absl::Status {
    auto r =
        tx.exec_params(absl::StrCat("UPDATE attempts SET go_suspend_at = coalesce(go_suspend_at, "
                                    "clock_timestamp()) WHERE attempt_id = $1 AND state IN ",
                                    model::HoldingAttemptStatesSql(), " RETURNING chain_id"),
                       attempt_id);
    if (r.empty()) return absl::FailedPreconditionError("the task attempt has already ended");
    AddEvent(tx, r[0][0].as<int64_t>(), attempt_id, "go_suspend", "task");
    return absl::OkStatus();
  });
}

absl::Status Store::SetWholeLifeState(int64_t chain_id, int value) {
  return pool_->Write("whole_life_state", [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params("UPDATE chains SET whole_life_state = $2 WHERE chain_id = $1", chain_id,
                   value);
    return absl::OkStatus();
  });
}

}  // namespace hai::store
