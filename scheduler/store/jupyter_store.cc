// Jupyter container rows; see jupyter_store.h.
#include "scheduler/store/jupyter_store.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/model/sql_sets.h"
#include "scheduler/store/row_mapping.h"

namespace hai::store {
namespace {

#define HAI_US(col) "(extract(epoch from " col ") * 1000000)::bigint"
// Columns read into JupyterRow, in JupyterFromRow's order (alias j, chains c, users u).
constexpr char kJupyterColumns[] =
    "j.chain_id, j.cpu_millis, j.memory_mib, j.gpus, j.keep_alive, j.attempt_id, j.port, "
    HAI_US("j.ready_at") ", " HAI_US("j.server_activity_at") ", " HAI_US("j.api_activity_at")
    ", " HAI_US("j.culled_at") ", j.cull_reason, c.user_name, c.node_group, "
    "coalesce(u.role, 'internal'), j.host";
#undef HAI_US
constexpr int kJupyterColumnCount = 16;  // how many kJupyterColumns names

constexpr char kJupyterFrom[] =
    " FROM jupyter_containers j JOIN chains c USING (chain_id) "
    "LEFT JOIN users u ON u.user_name = c.user_name ";

std::optional<absl::Time> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMicros(f.as<int64_t>());
}

JupyterRow JupyterFromRow(const pqxx::row& r) {
  JupyterRow j;
  j.chain_id = r[0].as<int64_t>();
  j.cpu_millis = r[1].as<int64_t>();
  j.memory_mib = r[2].as<int64_t>();
  j.gpus = r[3].as<int>();
  j.keep_alive = r[4].as<bool>();
  if (!r[5].is_null()) j.attempt_id = r[5].as<int64_t>();
  if (!r[6].is_null()) j.port = r[6].as<int>();
  j.ready_at = OptTime(r[7]);
  j.server_activity_at = OptTime(r[8]);
  j.api_activity_at = OptTime(r[9]).value_or(absl::InfinitePast());
  j.culled_at = OptTime(r[10]);
  j.cull_reason = r[11].as<std::string>();
  j.user = r[12].as<std::string>();
  j.group = r[13].as<std::string>();
  j.role = r[14].as<std::string>();
  if (!r[15].is_null()) j.host = r[15].as<std::string>();
  return j;
}

std::map<int64_t, JupyterRow> ReadRows(const pqxx::result& rows) {
  std::map<int64_t, JupyterRow> out;
  for (const auto& r : rows) {
    JupyterRow j = JupyterFromRow(r);
    out[j.chain_id] = std::move(j);
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> JupyterStore::Create(
    const NewChain& c, const JupyterRow& res,
    const std::function<absl::Status(const std::vector<policy::JupyterContainer>&)>& admit) {
  int64_t chain_id = 0;
  absl::Status s = pool_.Write("create jupyter", [&](pqxx::work& tx) -> absl::Status {
    // Serialises this user's creates (and only theirs) until commit: the quota read below
    // and the insert are then one atomic step.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('hai-jupyter:' || $1))", c.user);
    std::vector<policy::JupyterContainer> open;
    for (const auto& r :
         tx.exec_params(absl::StrCat("SELECT ", kJupyterColumns, kJupyterFrom,
                                     "WHERE c.user_name = $1 AND c.final_state IS NULL"),
                        c.user)) {
      JupyterRow j = JupyterFromRow(r);
      policy::JupyterContainer pc;
      pc.chain_id = j.chain_id;
      pc.user = j.user;
      pc.group = j.group;
      pc.cpu_millis = j.cpu_millis;
      pc.memory_mib = j.memory_mib;
      pc.gpus = j.gpus;
      pc.keep_alive = j.keep_alive;
      open.push_back(std::move(pc));
    }
    if (absl::Status a = admit(open); !a.ok()) return a;
    auto r = tx.exec_params1(
        "INSERT INTO chains (name, user_name, kind, node_group, priority, nodes, gpus_per_node,"
        " entrypoint, image) VALUES ($1, $2, 'jupyter', $3, 0, 1, $4, $5, $6) "
        "RETURNING chain_id",
        c.name, c.user, c.group, c.gpus_per_node, c.entrypoint, c.image);
    chain_id = r[0].as<int64_t>();
    auto a = tx.exec_params1(
        "INSERT INTO attempts (chain_id, attempt_no, state, tier) VALUES ($1, 0, 'queued', 0) "
        "RETURNING attempt_id",
        chain_id);
    tx.exec_params(
        "INSERT INTO jupyter_containers (chain_id, cpu_millis, memory_mib, gpus, keep_alive) "
        "VALUES ($1, $2, $3, $4, $5)",
        chain_id, res.cpu_millis, res.memory_mib, res.gpus, res.keep_alive);
    AddEvent(tx, chain_id, a[0].as<int64_t>(), "submitted", c.user,
             nlohmann::json{{"kind", "jupyter"},
                            {"group", c.group},
                            {"cpu_millis", res.cpu_millis},
                            {"memory_mib", res.memory_mib},
                            {"gpus", res.gpus},
                            {"keep_alive", res.keep_alive}});
    return absl::OkStatus();
  });
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat("you already have an open task or container named '", c.name,
                     "'; stop it first or choose another --name"));
  }
  if (!s.ok()) return s;
  return chain_id;
}

absl::StatusOr<std::vector<OpenJupyter>> JupyterStore::LoadOpenContainers() {
  std::vector<OpenJupyter> out;
  absl::Status s = pool_.Read("load open jupyter", [&](pqxx::read_transaction& tx) {
    auto rows = tx.exec(absl::StrCat(
        "SELECT ", kJupyterColumns,
        ", a.attempt_id, a.state, (extract(epoch from c.first_submit_at) * 1000000)::bigint, "
        "(extract(epoch from a.started_at) * 1000000)::bigint, c.hold, c.stop_requested, "
        "(a.stop_requested_at IS NOT NULL OR a.suspend_requested_at IS NOT NULL), p.node, "
        "p.gpus::text ",
        kJupyterFrom,
        "JOIN attempts a ON a.chain_id = c.chain_id "
        "AND a.state IN " +
            model::OpenAttemptStatesSql() +
            " "
            "LEFT JOIN pods p ON p.attempt_id = a.attempt_id AND p.rank = 0 "
            "WHERE c.final_state IS NULL AND c.kind = 'jupyter' ORDER BY a.attempt_id"));
    const int base = kJupyterColumnCount;
    for (const auto& r : rows) {
      OpenJupyter o;
      o.row = JupyterFromRow(r);
      o.attempt_id = r[base].as<int64_t>();
      o.state = model::AttemptStateFromDb(r[base + 1].as<std::string>());
      o.first_submit = absl::FromUnixMicros(r[base + 2].as<int64_t>());
      o.started_at = OptTime(r[base + 3]);
      o.hold = r[base + 4].as<bool>();
      o.stop_requested = r[base + 5].as<bool>();
      o.stop_or_suspend_requested = r[base + 6].as<bool>();
      if (!r[base + 7].is_null()) o.node = r[base + 7].as<std::string>();
      if (!r[base + 8].is_null()) o.gpus = ParseIntArray(r[base + 8].as<std::string>());
      out.push_back(std::move(o));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<int64_t, JupyterRow>> JupyterStore::LoadOpen() {
  std::map<int64_t, JupyterRow> out;
  absl::Status s = pool_.Read("load jupyter", [&](pqxx::read_transaction& tx) {
    out = ReadRows(tx.exec(
        absl::StrCat("SELECT ", kJupyterColumns, kJupyterFrom, "WHERE c.final_state IS NULL")));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<int64_t, JupyterRow>> JupyterStore::LoadRows(
    const std::vector<int64_t>& chain_ids) {
  std::map<int64_t, JupyterRow> out;
  if (chain_ids.empty()) return out;
  absl::Status s = pool_.Read("read jupyter", [&](pqxx::read_transaction& tx) {
    out = ReadRows(tx.exec_params(absl::StrCat("SELECT ", kJupyterColumns, kJupyterFrom,
                                               "WHERE j.chain_id = ANY($1::bigint[])"),
                                  ArrayLiteral(chain_ids)));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status JupyterStore::TouchApi(int64_t chain_id) {
  return pool_.Write("jupyter activity", [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "UPDATE jupyter_containers SET api_activity_at = clock_timestamp() WHERE chain_id = $1",
        chain_id);
    return absl::OkStatus();
  });
}

absl::Status JupyterStore::SetAccessToken(int64_t chain_id, const std::string& access_token_hash,
                                          const std::string& owner_token_hash) {
  return pool_.Write("jupyter access token", [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "UPDATE jupyter_containers SET access_token_hash = $2, owner_token_hash = $3 "
        "WHERE chain_id = $1 AND (access_token_hash, owner_token_hash) IS DISTINCT FROM ($2, $3)",
        chain_id, access_token_hash, owner_token_hash);
    return absl::OkStatus();
  });
}

absl::Status JupyterStore::MarkCulled(int64_t chain_id, int64_t attempt_id,
                                      const std::string& reason) {
  return pool_.Write("cull jupyter", [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(
        "UPDATE jupyter_containers SET culled_at = clock_timestamp(), cull_reason = $2 "
        "WHERE chain_id = $1 AND culled_at IS NULL AND EXISTS (SELECT 1 FROM chains c "
        "WHERE c.chain_id = $1 AND c.final_state IS NULL) RETURNING chain_id",
        chain_id, reason);
    if (r.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", chain_id, " already ended or was culled"));
    }
    AddEvent(tx, chain_id, attempt_id, "culled", "idle-culler", nlohmann::json{{"reason", reason}});
    return absl::OkStatus();
  });
}

}  // namespace hai::store
