// Postgres side of the manager; see attempt_store.h. Lock order matches haid's control store
// (chain row, then attempt row) so a user's stop and a manager finishing serialise cleanly.
#include "manager/attempt_store.h"

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/lifecycle/attempt_writer.h"
#include "common/lifecycle/task_events.h"
#include "common/log.h"
#include "common/model/states.h"
#include "common/pg.h"
#include "manager/storage/resolve.h"

namespace hai::manager {
namespace {

std::vector<int> ParseIntList(const std::string& csv) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(csv, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

// A JSON object of strings (chains.env, train_environments.env); non-string values are
// written as their JSON text so a number like 4 still arrives as "4".
EnvList ParseEnvObject(const std::string& text) {
  EnvList env;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return env;
  for (const auto& [k, v] : j.items()) {
    env.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  return env;
}

std::vector<std::string> ParseArgs(const std::string& text) {
  std::vector<std::string> args;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return args;
  for (const auto& v : j) args.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  return args;
}

// The manager's events carry actor 'manager'; rows go through the one shared writer.
void AddEvent(pqxx::work& tx, int64_t chain_id, int64_t attempt_id, std::string_view kind,
              const nlohmann::json& detail) {
  lifecycle::AddEvent(tx, chain_id, attempt_id, kind, "manager", detail);
}

// The user's uid and groups and every active storage row, then the mounts they resolve to
// for this attempt (manager/storage/resolve.h). Read in the claim transaction, so the mounts
// are those of the storage table as of the claim: an edit applies to the next attempt.
void LoadMounts(pqxx::work& tx, AttemptInfo& a) {
  auto uid = tx.exec_params("SELECT uid FROM users WHERE user_name = $1", a.user_name);
  if (!uid.empty()) a.user_uid = uid[0][0].as<int64_t>();
  a.user_groups.clear();
  for (const auto& g : tx.exec_params(
           "SELECT group_name FROM user_group_members WHERE user_name = $1 ORDER BY group_name",
           a.user_name)) {
    a.user_groups.push_back(g[0].as<std::string>());
  }
  std::vector<storage::StorageRow> rows;
  for (const auto& r : tx.exec(
           "SELECT id, host_path, mount_path, owner_kind, owner, conditions, mount_type, "
           "read_only, action FROM storage WHERE active ORDER BY id")) {
    storage::StorageRow row;
    row.id = r[0].as<int64_t>();
    row.host_path = r[1].as<std::string>();
    row.mount_path = r[2].as<std::string>();
    row.owner_kind = r[3].as<std::string>();
    row.owner = r[4].as<std::string>();
    row.conditions = r[5].as<std::string>();
    row.mount_type = r[6].as<std::string>();
    row.read_only = r[7].as<bool>();
    row.action = r[8].as<std::string>();
    rows.push_back(std::move(row));
  }
  storage::Resolution res = storage::ResolveMounts(
      rows, {.user_name = a.user_name, .uid = a.user_uid, .groups = a.user_groups},
      {.chain_id = a.chain_id, .name = a.chain_name, .group = a.node_group});
  a.mounts = std::move(res.mounts);
  a.storage_problems = std::move(res.problems);
}

nlohmann::json MountsJson(const std::vector<storage::Mount>& mounts) {
  nlohmann::json out = nlohmann::json::array();
  for (const storage::Mount& m : mounts) {
    out.push_back({{"row", m.row_id},
                   {"host_path", m.host_path},
                   {"mount_path", m.mount_path},
                   {"read_only", m.read_only},
                   {"type", m.type}});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AttemptStore>> AttemptStore::Connect(const std::string& url,
                                                                    int64_t attempt_id,
                                                                    ManagerIdentity me) {
  auto conn = pg::Connect(url);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<AttemptStore> store(
      new AttemptStore(std::move(conn).value(), attempt_id, std::move(me)));
  store->url_ = url;
  return store;
}

absl::Status AttemptStore::Reconnect() {
  if (conn_ != nullptr && conn_->is_open()) return absl::OkStatus();
  auto conn = pg::Connect(url_);
  if (!conn.ok()) return conn.status();
  conn_ = std::move(conn).value();
  return absl::OkStatus();
}

absl::StatusOr<ClaimResult> AttemptStore::Claim(const std::string& token_hash) {
  ClaimResult result;
  AttemptInfo& a = result.info;
  absl::Status s = pg::InTransaction(*conn_, "claim attempt", [&](pqxx::work& tx) {
    pg::LockChainOfAttempt(tx, attempt_id_);
    auto rows = tx.exec_params(
        "SELECT a.attempt_id, a.chain_id, a.attempt_no, a.tier, a.state, a.task_token_hash, "
        "c.name, c.user_name, c.kind, c.node_group, c.entrypoint, c.args::text, c.workdir, "
        "c.env::text, c.whole_life_state, coalesce(e.python, 'python3'), "
        "coalesce(e.env, '{}'::jsonb)::text, "
        "CASE WHEN c.image <> '' THEN c.image ELSE coalesce(e.image, '') END "
        "FROM attempts a JOIN chains c USING (chain_id) "
        "LEFT JOIN train_environments e ON e.env_name = c.environment "
        "WHERE a.attempt_id = $1 FOR UPDATE OF a",
        attempt_id_);
    if (rows.empty()) {
      return absl::NotFoundError(absl::StrCat("no attempt ", attempt_id_));
    }
    const auto& r = rows[0];
    a.attempt_id = r[0].as<int64_t>();
    a.chain_id = r[1].as<int64_t>();
    a.attempt_no = r[2].as<int>();
    a.tier = r[3].as<int>();
    a.state = model::AttemptStateFromDb(r[4].as<std::string>());
    a.task_token_hash = r[5].as<std::string>();
    a.chain_name = r[6].as<std::string>();
    a.user_name = r[7].as<std::string>();
    a.kind = model::TaskKindFromDb(r[8].as<std::string>());
    a.node_group = r[9].as<std::string>();
    a.entrypoint = r[10].as<std::string>();
    a.args = ParseArgs(r[11].as<std::string>());
    a.workdir = r[12].as<std::string>();
    a.chain_env = ParseEnvObject(r[13].as<std::string>());
    a.whole_life_state = r[14].as<int>();
    a.python = r[15].as<std::string>();
    a.train_env = ParseEnvObject(r[16].as<std::string>());
    a.image = r[17].as<std::string>();
    chain_id_ = a.chain_id;
    if (!model::HoldsNodes(a.state)) {
      // queued: haid has not scheduled it (or took it back); nothing for a manager to run.
      result.ended = true;
      return absl::OkStatus();
    }
    LoadMounts(tx, a);
    if (!a.storage_problems.empty()) {
      nlohmann::json problems = nlohmann::json::array();
      for (const storage::StorageProblem& p : a.storage_problems) {
        HAI_LOG(WARNING) << "storage row " << p.row_id << " skipped: " << p.reason;
        problems.push_back({{"row", p.row_id}, {"reason", p.reason}});
      }
      AddEvent(tx, a.chain_id, attempt_id_, "storage_problems", {{"problems", problems}});
    }
    tx.exec_params(
        "UPDATE attempts SET manager_pid = $2, manager_host = $3, "
        "manager_heartbeat_at = clock_timestamp() WHERE attempt_id = $1",
        attempt_id_, me_.pid, me_.host);
    if (a.state == model::AttemptState::kScheduled) {
      tx.exec_params(
          "UPDATE attempts SET state = 'starting', task_token_hash = $2 WHERE attempt_id = $1",
          attempt_id_, token_hash);
      a.task_token_hash = token_hash;
      AddEvent(tx, a.chain_id, attempt_id_, "starting",
               {{"manager_pid", me_.pid}, {"mounts", MountsJson(a.mounts)}});
    } else {
      AddEvent(tx, a.chain_id, attempt_id_, "manager_adopted",
               {{"manager_pid", me_.pid},
                {"state", model::Name(a.state)},
                {"mounts", MountsJson(a.mounts)}});
    }
    auto pods = tx.exec_params(
        "SELECT rank, node, array_to_string(gpus, ','), state, pid, exit_code FROM pods "
        "WHERE attempt_id = $1 ORDER BY rank",
        attempt_id_);
    for (const auto& p : pods) {
      PodInfo pod;
      pod.rank = p[0].as<int>();
      pod.node = p[1].as<std::string>();
      pod.gpus = ParseIntList(p[2].as<std::string>());
      pod.state = model::PodStateFromDb(p[3].as<std::string>());
      if (!p[4].is_null()) pod.pid = p[4].as<int64_t>();
      if (!p[5].is_null()) pod.exit_code = p[5].as<int>();
      a.pods.push_back(std::move(pod));
    }
    if (a.pods.empty()) return absl::FailedPreconditionError("attempt has no pods rows");
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return result;
}

absl::Status AttemptStore::SetTokenHash(const std::string& token_hash) {
  return pg::InTransaction(*conn_, "set token", [&](pqxx::work& tx) {
    tx.exec_params("UPDATE attempts SET task_token_hash = $2 WHERE attempt_id = $1",
                   attempt_id_, token_hash);
    return absl::OkStatus();
  });
}

absl::StatusOr<ControlState> AttemptStore::Heartbeat() {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  ControlState c;
  absl::Status s = pg::InTransaction(*conn_, "heartbeat", [&](pqxx::work& tx) {
    auto rows = tx.exec_params(
        "UPDATE attempts a SET manager_heartbeat_at = clock_timestamp() FROM chains c "
        "WHERE a.attempt_id = $1 AND c.chain_id = a.chain_id AND a.manager_pid = $2 "
        "AND a.manager_host = $3 "
        "RETURNING a.state, a.stop_requested_at IS NOT NULL OR c.stop_requested, "
        "a.suspend_requested_at IS NOT NULL, a.suspend_reason, a.go_suspend_at IS NOT NULL, "
        "coalesce(extract(epoch FROM clock_timestamp() - a.suspend_requested_at), 0)::float8",
        attempt_id_, me_.pid, me_.host);
    if (rows.empty()) {
      c.owned = false;
      return absl::OkStatus();
    }
    const auto& r = rows[0];
    c.ended_elsewhere = model::IsEnded(model::AttemptStateFromDb(r[0].as<std::string>()));
    c.stop_requested = r[1].as<bool>();
    c.suspend_requested = r[2].as<bool>();
    c.suspend_reason = r[3].as<std::string>();
    c.go_suspend = r[4].as<bool>();
    c.seconds_since_suspend_request = r[5].as<double>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return c;
}

absl::Status AttemptStore::PodStarted(int rank, int64_t runtime_id, bool waiting) {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  return pg::InTransaction(*conn_, "pod started", [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE pods SET state = $4, pid = $3, started_at = clock_timestamp() "
        "WHERE attempt_id = $1 AND rank = $2",
        attempt_id_, rank, runtime_id, waiting ? "starting" : "running");
    AddEvent(tx, chain_id_, attempt_id_, "pod_started", {{"rank", rank}, {"pid", runtime_id}});
    return absl::OkStatus();
  });
}

absl::Status AttemptStore::PodWaiting(int rank, bool waiting) {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  return pg::InTransaction(*conn_, "pod waiting", [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE pods SET state = $3 WHERE attempt_id = $1 AND rank = $2 "
        "AND state IN ('starting', 'running')",
        attempt_id_, rank, waiting ? "starting" : "running");
    return absl::OkStatus();
  });
}

absl::Status AttemptStore::AttemptRunning() {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  return pg::InTransaction(*conn_, "attempt running", [&](pqxx::work& tx) {
    pg::LockChainOfAttempt(tx, attempt_id_);
    auto r = tx.exec_params(
        "UPDATE attempts SET state = 'running', started_at = coalesce(started_at, "
        "clock_timestamp()) WHERE attempt_id = $1 AND state = 'starting' RETURNING 1",
        attempt_id_);
    if (!r.empty()) AddEvent(tx, chain_id_, attempt_id_, "started", nlohmann::json::object());
    return absl::OkStatus();
  });
}

absl::Status AttemptStore::PodEnded(int rank, model::PodState state, std::optional<int> exit_code) {
  const std::string pod_state(model::Name(state));
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  return pg::InTransaction(*conn_, "pod ended", [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE pods SET state = $3, exit_code = $4, ended_at = clock_timestamp() "
        "WHERE attempt_id = $1 AND rank = $2",
        attempt_id_, rank, pod_state, exit_code);
    nlohmann::json detail = {{"rank", rank}, {"state", pod_state}};
    if (exit_code.has_value()) detail["exit_code"] = *exit_code;
    AddEvent(tx, chain_id_, attempt_id_, "pod_ended", detail);
    return absl::OkStatus();
  });
}

absl::StatusOr<model::AttemptState> AttemptStore::Finish(const AttemptOutcome& outcome) {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  model::AttemptState written = outcome.state;
  absl::Status s = pg::InTransaction(*conn_, "finish attempt", [&](pqxx::work& tx) {
    // The one writer of endings decides stop-over-suspend, closes or requeues the chain.
    auto ended = lifecycle::EndAttempt(tx, attempt_id_,
                                       {.state = outcome.state,
                                        .exit_code = outcome.exit_code,
                                        .reason = outcome.end_reason,
                                        .actor = "manager"});
    if (!ended.ok()) return ended.status();
    written = ended->state;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return written;
}

std::string AttemptStore::StopActor() {
  if (!Reconnect().ok()) return "";
  std::string actor;
  (void)pg::InTransaction(*conn_, "stop actor", [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT actor FROM task_events WHERE attempt_id = $1 AND kind = 'stop_requested' "
        "ORDER BY event_id DESC LIMIT 1",
        attempt_id_);
    if (!r.empty()) actor = r[0][0].as<std::string>();
    return absl::OkStatus();
  });
  return actor;
}

}  // namespace hai::manager
