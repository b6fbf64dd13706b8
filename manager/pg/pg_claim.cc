// The claim of an attempt by its manager (PgAttemptStore::Claim, attempt_store.h): one
// transaction that reads the attempt, its chain, the user's storage mounts and the pods rows,
// records this manager as the owner and moves a scheduled attempt to starting.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/lifecycle/task_events.h"
#include "common/log.h"
#include "common/model/states.h"
#include "common/pg.h"
#include "manager/pg/pg_attempt_store.h"
#include "manager/pg/pg_rows.h"
#include "manager/storage/resolve.h"

namespace hai::manager {
namespace {

constexpr char kActor[] = "manager";

std::string Str(std::string_view s) { return std::string(s); }

// The user's uid and groups and every active storage row, then the mounts they resolve to
// for this attempt (manager/storage/resolve.h). Read in the claim transaction, so the mounts
// are those of the storage table as of the claim: an edit applies to the next attempt.
void LoadMounts(pqxx::work& tx, AttemptInfo& a) {
  auto uid = tx.exec_params(
      "SELECT uid, coalesce(gid, uid) AS gid, array_to_string(supplementary_gids, ',') AS sup "
      "FROM users WHERE user_name = $1",
      a.user_name);
  a.user_supplementary_gids.clear();
  if (!uid.empty()) {
    a.user_uid = uid[0]["uid"].as<int64_t>();
    a.user_gid = uid[0]["gid"].as<int64_t>();
    for (absl::string_view g :
         absl::StrSplit(uid[0]["sup"].as<std::string>(), ',', absl::SkipEmpty())) {
      int64_t id = 0;
      if (absl::SimpleAtoi(g, &id)) a.user_supplementary_gids.push_back(id);
    }
  }
  a.user_groups.clear();
  for (const auto& g : tx.exec_params(
           "SELECT group_name FROM user_group_members WHERE user_name = $1 ORDER BY group_name",
           a.user_name)) {
    a.user_groups.push_back(g["group_name"].as<std::string>());
  }
  std::vector<storage::StorageRow> rows;
  for (const auto& r :
       tx.exec("SELECT id, host_path, mount_path, owner_kind, owner, conditions, mount_type, "
               "read_only, action FROM storage WHERE active ORDER BY id")) {
    rows.push_back(pg_rows::ReadStorage(r));
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

// Rows the resolver skipped are logged and kept in the task's history.
void RecordStorageProblems(pqxx::work& tx, const AttemptInfo& a) {
  if (a.storage_problems.empty()) return;
  nlohmann::json problems = nlohmann::json::array();
  for (const storage::StorageProblem& p : a.storage_problems) {
    HAI_LOG(WARNING) << "storage row " << p.row_id << " skipped: " << p.reason;
    problems.push_back({{"row", p.row_id}, {"reason", p.reason}});
  }
  lifecycle::AddEvent(tx, a.chain_id, a.attempt_id, "storage_problems", kActor,
                      {{"problems", problems}});
}

}  // namespace

absl::StatusOr<ClaimResult> PgAttemptStore::Claim(const std::string& token_hash) {
  if (absl::Status c = Reconnect(); !c.ok()) return c;
  ClaimResult result;
  absl::Status s = pg::InTransaction(
      *conn_, "claim attempt", [&](pqxx::work& tx) { return ClaimIn(tx, token_hash, &result); });
  if (!s.ok()) return s;
  // Held only once committed: an aborted claim made this manager no owner.
  if (!result.ended) generation_ = result.generation;
  return result;
}

absl::Status PgAttemptStore::ClaimIn(pqxx::work& tx, const std::string& token_hash,
                                     ClaimResult* result) {
  AttemptInfo& a = result->info;
  pg::LockChainOfAttempt(tx, attempt_id_);
  auto rows = tx.exec_params(
      "SELECT a.attempt_id, a.chain_id, a.attempt_no, a.tier, a.state, a.task_token_hash, "
      "c.name AS chain_name, c.user_name, c.kind, c.node_group, c.entrypoint, "
      "c.args::text AS args, c.workdir, c.env::text AS chain_env, c.whole_life_state, "
      "c.self_requeues, "
      "coalesce(e.python, 'python3') AS python, "
      "coalesce(e.env, '{}'::jsonb)::text AS train_env, "
      "CASE WHEN c.image <> '' THEN c.image ELSE coalesce(e.image, '') END AS image "
      "FROM attempts a JOIN chains c USING (chain_id) "
      "LEFT JOIN train_environments e ON e.env_name = c.environment "
      "WHERE a.attempt_id = $1 FOR UPDATE OF a",
      attempt_id_);
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("no attempt ", attempt_id_));
  pg_rows::ReadAttempt(rows[0], &a);
  chain_id_ = a.chain_id;
  if (!model::HoldsNodes(a.state)) {
    // queued: haid has not scheduled it (or took it back); ended: nothing left to run.
    result->ended = true;
    return absl::OkStatus();
  }
  LoadMounts(tx, a);
  RecordStorageProblems(tx, a);
  // The next manager generation is this manager's: every write it makes from now on is
  // conditioned on it, and a predecessor's writes are refused. The start time lets haid tell
  // this process from a later one that reuses its pid.
  auto claimed = tx.exec_params(
      "UPDATE attempts SET manager_pid = $2, manager_host = $3, manager_start_time = $4, "
      "manager_heartbeat_at = clock_timestamp(), manager_generation = manager_generation + 1 "
      "WHERE attempt_id = $1 RETURNING manager_generation",
      attempt_id_, me_.pid, me_.host, me_.start_time);
  result->generation = claimed[0][0].as<int64_t>();
  if (a.state == model::AttemptState::kScheduled) {
    tx.exec_params("UPDATE attempts SET state = $2, task_token_hash = $3 WHERE attempt_id = $1",
                   attempt_id_, Str(model::Name(model::AttemptState::kStarting)), token_hash);
    a.task_token_hash = token_hash;
    lifecycle::AddEvent(tx, a.chain_id, attempt_id_, "starting", kActor,
                        {{"manager_pid", me_.pid},
                         {"manager_generation", result->generation},
                         {"mounts", MountsJson(a.mounts)}});
  } else {
    lifecycle::AddEvent(tx, a.chain_id, attempt_id_, "manager_adopted", kActor,
                        {{"manager_pid", me_.pid},
                         {"manager_generation", result->generation},
                         {"state", model::Name(a.state)},
                         {"mounts", MountsJson(a.mounts)}});
  }
  auto pods = tx.exec_params(
      "SELECT rank, node, array_to_string(gpus, ',') AS gpus, state, pid, exit_code, "
      "start_generation FROM pods "
      "WHERE attempt_id = $1 ORDER BY rank",
      attempt_id_);
  for (const auto& p : pods) a.pods.push_back(pg_rows::ReadPod(p));
  if (a.pods.empty()) return absl::FailedPreconditionError("attempt has no pods rows");
  return absl::OkStatus();
}

}  // namespace hai::manager
