// The manager's SQL about Jupyter containers (jupyter_containers, 0002_jupyter.sql and
// 0004_jupyter_host.sql); see the
// Jupyter part of attempt_store.h. Reports are keyed by this attempt, so a report of an
// earlier attempt can never make a new one look ready.
#include "absl/strings/str_cat.h"
#include "common/pg.h"
#include "manager/attempt_store.h"

namespace hai::manager {

absl::StatusOr<JupyterPodInfo> AttemptStore::LoadJupyter() {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  JupyterPodInfo info;
  bool found = false;
  absl::Status s = pg::InTransaction(*conn_, "load jupyter", [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT j.cpu_millis, j.memory_mib, j.gpus, u.token_hash "
        "FROM jupyter_containers j JOIN chains c USING (chain_id) "
        "JOIN users u ON u.user_name = c.user_name WHERE j.chain_id = $1",
        chain_id_);
    if (r.empty()) return absl::OkStatus();
    found = true;
    info.cpu_millis = r[0][0].as<int64_t>();
    info.memory_mib = r[0][1].as<int64_t>();
    info.gpus = r[0][2].as<int>();
    info.owner_token_hash = r[0][3].as<std::string>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found)
    return absl::NotFoundError(absl::StrCat("chain ", chain_id_, " has no container row"));
  return info;
}

absl::Status AttemptStore::ReportJupyterAddress(const std::string& host, int port) {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  return pg::InTransaction(*conn_, "report jupyter address", [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE jupyter_containers SET attempt_id = $2, host = $3, port = $4, ready_at = NULL, "
        "server_activity_at = NULL WHERE chain_id = $1",
        chain_id_, attempt_id_, host, port);
    return absl::OkStatus();
  });
}

absl::Status AttemptStore::ReportJupyterStatus(std::optional<absl::Time> activity) {
  if (absl::Status s = Reconnect(); !s.ok()) return s;
  return pg::InTransaction(*conn_, "report jupyter status", [&](pqxx::work& tx) {
    std::optional<int64_t> us;
    if (activity.has_value()) us = absl::ToUnixMicros(*activity);
    tx.exec_params(
        "UPDATE jupyter_containers SET ready_at = coalesce(ready_at, clock_timestamp()), "
        "server_activity_at = greatest(server_activity_at, to_timestamp($3::bigint / 1e6)) "
        "WHERE chain_id = $1 AND attempt_id = $2",
        chain_id_, attempt_id_, us);
    return absl::OkStatus();
  });
}

}  // namespace hai::manager
