// Postgres side of the manager after the claim (pg_attempt_store.h): heartbeat and control
// columns, the pods rows, and the attempt's end through the one writer of endings.
#include "manager/pg/pg_attempt_store.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/lifecycle/attempt_writer.h"
#include "common/lifecycle/task_events.h"
#include "common/model/states.h"
#include "common/pg.h"
#include "common/status_macros.h"
#include "manager/pg/pg_rows.h"

namespace hai::manager {
namespace {

using model::PodState;

constexpr char kActor[] = "manager";

std::string Str(std::string_view s) { return std::string(s); }

// Locks the pods row of `rank` and returns its state. The caller has locked the chain row
// first (pg::LockChainOfAttempt), the order every writer of this attempt's rows keeps.
absl::StatusOr<PodState> LockPod(pqxx::work& tx, int64_t attempt_id, int rank) {
  auto r = tx.exec_params("SELECT state FROM pods WHERE attempt_id = $1 AND rank = $2 FOR UPDATE",
                          attempt_id, rank);
  if (r.empty()) {
    return absl::NotFoundError(absl::StrCat("attempt ", attempt_id, " has no rank ", rank));
  }
  return model::PodStateFromDb(r[0]["state"].as<std::string>());
}

// model::CheckTransition, naming the pod in the refusal.
absl::Status CheckPodMove(int64_t attempt_id, int rank, PodState from, PodState to) {
  absl::Status s = model::CheckTransition(from, to);
  if (s.ok()) return s;
  return absl::FailedPreconditionError(
      absl::StrCat("attempt ", attempt_id, " rank ", rank, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgAttemptStore>> PgAttemptStore::Connect(const std::string& url,
                                                                        int64_t attempt_id,
                                                                        ManagerIdentity me) {
  auto conn = pg::Connect(url);
  if (!conn.ok()) return conn.status();
  return std::unique_ptr<PgAttemptStore>(
      new PgAttemptStore(std::move(conn).value(), url, attempt_id, std::move(me)));
}

std::unique_ptr<PgAttemptStore> PgAttemptStore::Borrowing(pqxx::connection& conn,
                                                          int64_t attempt_id, ManagerIdentity me,
                                                          int64_t generation) {
  std::unique_ptr<PgAttemptStore> store(new PgAttemptStore(nullptr, "", attempt_id, std::move(me)));
  store->conn_ = &conn;
  store->generation_ = generation;
  return store;
}

absl::Status PgAttemptStore::Reconnect() {
  if (conn_ != nullptr && conn_->is_open()) return absl::OkStatus();
  if (owned_ == nullptr) return absl::UnavailableError("borrowed database connection is closed");
  auto conn = pg::Connect(url_);
  if (!conn.ok()) return conn.status();
  owned_ = std::move(conn).value();
  conn_ = owned_.get();
  return absl::OkStatus();
}

absl::Status PgAttemptStore::Superseded(pqxx::work& tx) {
  auto r =
      tx.exec_params("SELECT manager_generation FROM attempts WHERE attempt_id = $1", attempt_id_);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("no attempt ", attempt_id_));
  return ManagerSuperseded(generation_, r[0][0].as<int64_t>());
}

absl::Status PgAttemptStore::LockAsOwner(pqxx::work& tx) {
  pg::LockChainOfAttempt(tx, attempt_id_);
  auto r = tx.exec_params("SELECT manager_generation, chain_id FROM attempts WHERE attempt_id = $1",
                          attempt_id_);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("no attempt ", attempt_id_));
  const int64_t current = r[0][0].as<int64_t>();
  chain_id_ = r[0][1].as<int64_t>();
  if (current != generation_) return ManagerSuperseded(generation_, current);
  return absl::OkStatus();
}

absl::Status PgAttemptStore::SetTokenHash(const std::string& token_hash) {
  RETURN_IF_ERROR(Reconnect());
  return pg::InTransaction(*conn_, "set token", [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "UPDATE attempts SET task_token_hash = $2 WHERE attempt_id = $1 "
        "AND manager_generation = $3 RETURNING 1",
        attempt_id_, token_hash, generation_);
    if (r.empty()) return Superseded(tx);
    return absl::OkStatus();
  });
}

absl::StatusOr<ControlState> PgAttemptStore::Heartbeat() {
  RETURN_IF_ERROR(Reconnect());
  ControlState c;
  absl::Status s = pg::InTransaction(*conn_, "heartbeat", [&](pqxx::work& tx) {
    auto rows = tx.exec_params(
        "UPDATE attempts a SET manager_heartbeat_at = clock_timestamp() FROM chains c "
        "WHERE a.attempt_id = $1 AND c.chain_id = a.chain_id AND a.manager_generation = $2 "
        "RETURNING a.state, "
        "a.stop_requested_at IS NOT NULL OR c.stop_requested AS stop_requested, "
        "a.suspend_requested_at IS NOT NULL AS suspend_requested, a.suspend_reason, "
        "a.go_suspend_at IS NOT NULL AS go_suspend, "
        "coalesce(extract(epoch FROM clock_timestamp() - a.suspend_requested_at), 0)::float8 "
        "AS seconds_since_suspend_request",
        attempt_id_, generation_);
    // The UPDATE waited for a concurrent claim and re-read the row: no row is a lost claim.
    if (rows.empty()) return Superseded(tx);
    c = pg_rows::ReadControl(rows[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return c;
}

absl::Status PgAttemptStore::PodStartIntended(int rank) {
  RETURN_IF_ERROR(Reconnect());
  return pg::InTransaction(*conn_, "pod start intended", [&](pqxx::work& tx) -> absl::Status {
    RETURN_IF_ERROR(LockAsOwner(tx));
    ASSIGN_OR_RETURN(const PodState from, LockPod(tx, attempt_id_, rank));
    if (model::IsEnded(from)) {
      return absl::FailedPreconditionError(
          absl::StrCat("attempt ", attempt_id_, " rank ", rank, " is ", Str(model::Name(from))));
    }
    tx.exec_params("UPDATE pods SET start_generation = $3 WHERE attempt_id = $1 AND rank = $2",
                   attempt_id_, rank, generation_);
    return absl::OkStatus();
  });
}

absl::Status PgAttemptStore::PodStarted(int rank, int64_t runtime_id, bool waiting) {
  RETURN_IF_ERROR(Reconnect());
  const PodState to = waiting ? PodState::kStarting : PodState::kRunning;
  return pg::InTransaction(*conn_, "pod started", [&](pqxx::work& tx) -> absl::Status {
    RETURN_IF_ERROR(LockAsOwner(tx));
    ASSIGN_OR_RETURN(const PodState from, LockPod(tx, attempt_id_, rank));
    // A row already in that state only gets its id (an adopting manager recording a rank whose
    // id an earlier one could not); staying is not a transition.
    if (from != to) RETURN_IF_ERROR(CheckPodMove(attempt_id_, rank, from, to));
    tx.exec_params(
        "UPDATE pods SET state = $4, pid = $3, started_at = clock_timestamp() "
        "WHERE attempt_id = $1 AND rank = $2",
        attempt_id_, rank, runtime_id, Str(model::Name(to)));
    lifecycle::AddEvent(tx, chain_id_, attempt_id_, "pod_started", kActor,
                        {{"rank", rank}, {"pid", runtime_id}});
    return absl::OkStatus();
  });
}

absl::Status PgAttemptStore::PodWaiting(int rank, bool waiting) {
  RETURN_IF_ERROR(Reconnect());
  const PodState to = waiting ? PodState::kStarting : PodState::kRunning;
  return pg::InTransaction(*conn_, "pod waiting", [&](pqxx::work& tx) -> absl::Status {
    RETURN_IF_ERROR(LockAsOwner(tx));
    ASSIGN_OR_RETURN(const PodState from, LockPod(tx, attempt_id_, rank));
    if (from == to) return absl::OkStatus();
    // Only a started rank alternates; a created row is the start's to write.
    if (from != PodState::kStarting && from != PodState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat("attempt ", attempt_id_, " rank ", rank,
                                                        " is ", Str(model::Name(from)),
                                                        ", not started"));
    }
    RETURN_IF_ERROR(CheckPodMove(attempt_id_, rank, from, to));
    tx.exec_params("UPDATE pods SET state = $3 WHERE attempt_id = $1 AND rank = $2", attempt_id_,
                   rank, Str(model::Name(to)));
    return absl::OkStatus();
  });
}

absl::Status PgAttemptStore::AttemptRunning() {
  RETURN_IF_ERROR(Reconnect());
  return pg::InTransaction(*conn_, "attempt running", [&](pqxx::work& tx) -> absl::Status {
    RETURN_IF_ERROR(LockAsOwner(tx));
    // Conditional, not checked: an adopting manager calls this for an attempt already running.
    auto r = tx.exec_params(
        "UPDATE attempts SET state = $2, started_at = coalesce(started_at, "
        "clock_timestamp()) WHERE attempt_id = $1 AND state = $3 RETURNING 1",
        attempt_id_, Str(model::Name(model::AttemptState::kRunning)),
        Str(model::Name(model::AttemptState::kStarting)));
    if (!r.empty()) {
      lifecycle::AddEvent(tx, chain_id_, attempt_id_, "started", kActor, nlohmann::json::object());
    }
    return absl::OkStatus();
  });
}

absl::Status PgAttemptStore::PodEnded(int rank, PodState state, std::optional<int> exit_code) {
  if (!model::IsEnded(state)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PodEnded needs an ended state, not ", Str(model::Name(state))));
  }
  RETURN_IF_ERROR(Reconnect());
  const std::string pod_state(model::Name(state));
  return pg::InTransaction(*conn_, "pod ended", [&](pqxx::work& tx) -> absl::Status {
    RETURN_IF_ERROR(LockAsOwner(tx));
    ASSIGN_OR_RETURN(const PodState from, LockPod(tx, attempt_id_, rank));
    RETURN_IF_ERROR(CheckPodMove(attempt_id_, rank, from, state));
    tx.exec_params(
        "UPDATE pods SET state = $3, exit_code = $4, ended_at = clock_timestamp() "
        "WHERE attempt_id = $1 AND rank = $2",
        attempt_id_, rank, pod_state, exit_code);
    nlohmann::json detail = {{"rank", rank}, {"state", pod_state}};
    if (exit_code.has_value()) detail["exit_code"] = *exit_code;
    lifecycle::AddEvent(tx, chain_id_, attempt_id_, "pod_ended", kActor, detail);
    return absl::OkStatus();
  });
}

absl::StatusOr<model::AttemptState> PgAttemptStore::Finish(const AttemptOutcome& outcome) {
  RETURN_IF_ERROR(Reconnect());
  model::AttemptState written = outcome.state;
  absl::Status s = pg::InTransaction(*conn_, "finish attempt", [&](pqxx::work& tx) {
    // Only the current manager ends the attempt; EndAttempt takes the same chain lock again.
    RETURN_IF_ERROR(LockAsOwner(tx));
    // The one writer of endings decides stop-over-suspend, closes or requeues the chain.
    auto ended = lifecycle::EndAttempt(tx, attempt_id_,
                                       {.state = outcome.state,
                                        .exit_code = outcome.exit_code,
                                        .reason = outcome.end_reason,
                                        .actor = kActor,
                                        .self_inflicted = outcome.self_inflicted});
    if (!ended.ok()) return ended.status();
    written = ended->state;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return written;
}

std::string PgAttemptStore::StopActor() {
  if (!Reconnect().ok()) return "";
  std::string actor;
  (void)pg::InTransaction(*conn_, "stop actor", [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT actor FROM task_events WHERE attempt_id = $1 AND kind = 'stop_requested' "
        "ORDER BY event_id DESC LIMIT 1",
        attempt_id_);
    if (!r.empty()) actor = r[0]["actor"].as<std::string>();
    return absl::OkStatus();
  });
  return actor;
}

}  // namespace hai::manager
