// The manager's SQL about Jupyter containers (jupyter_containers, 0002_jupyter.sql and
// 0004_jupyter_host.sql); see the Jupyter part of attempt_store.h. Reports are keyed by this
// attempt, so a report of an earlier attempt can never make a new one look ready, and made
// only by the attempt's current manager (LockAsOwner, attempt_store.h's fencing).
#include "absl/strings/str_cat.h"
#include "common/pg.h"
#include "common/status_macros.h"
#include "manager/pg/pg_attempt_store.h"
#include "manager/pg/pg_rows.h"

namespace hai::manager {

absl::StatusOr<JupyterPodInfo> PgAttemptStore::LoadJupyter() {
  RETURN_IF_ERROR(Reconnect());
  std::optional<JupyterPodInfo> info;
  absl::Status s = pg::InTransaction(*conn_, "load jupyter", [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT j.cpu_millis, j.memory_mib, j.gpus FROM jupyter_containers j "
        "WHERE j.chain_id = (SELECT chain_id FROM attempts WHERE attempt_id = $1)",
        attempt_id_);
    if (!r.empty()) info = pg_rows::ReadJupyter(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!info.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("the chain of attempt ", attempt_id_, " has no container row"));
  }
  return *std::move(info);
}

absl::Status PgAttemptStore::ReportJupyterAddress(const std::string& host, int port) {
  RETURN_IF_ERROR(Reconnect());
  return pg::InTransaction(*conn_, "report jupyter address", [&](pqxx::work& tx) {
    RETURN_IF_ERROR(LockAsOwner(tx));
    tx.exec_params(
        "UPDATE jupyter_containers SET attempt_id = $2, host = $3, port = $4, ready_at = NULL, "
        "server_activity_at = NULL WHERE chain_id = $1",
        chain_id_, attempt_id_, host, port);
    return absl::OkStatus();
  });
}

absl::Status PgAttemptStore::ReportJupyterStatus(std::optional<absl::Time> activity) {
  RETURN_IF_ERROR(Reconnect());
  return pg::InTransaction(*conn_, "report jupyter status", [&](pqxx::work& tx) {
    RETURN_IF_ERROR(LockAsOwner(tx));
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
