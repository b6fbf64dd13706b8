#include "manager/pg/pg_heartbeat_batch.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/pg.h"
#include "manager/pg/pg_rows.h"

namespace hai::manager {

absl::StatusOr<std::vector<absl::StatusOr<ControlState>>> HeartbeatBatch(
    pqxx::connection& conn, const std::vector<HeartbeatKey>& keys) {
  // Array literals ("{1,2,3}"): this libpqxx binds no std::vector parameters.
  std::string ids = "{", gens = "{";
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StrAppend(&ids, i == 0 ? "" : ",", keys[i].attempt_id);
    absl::StrAppend(&gens, i == 0 ? "" : ",", keys[i].generation);
  }
  ids += "}";
  gens += "}";
  std::map<std::pair<int64_t, int64_t>, ControlState> beaten;
  std::map<int64_t, int64_t> current;  // attempt -> its generation now
  absl::Status s = pg::InTransaction(conn, "heartbeat batch", [&](pqxx::work& tx) {
    // The same UPDATE as PgAttemptStore::Heartbeat, for every (attempt, generation) pair.
    // The locking CTE takes the rows in attempt id order first.
    auto rows = tx.exec_params(
        "WITH hb AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS t(attempt_id, gen)), "
        "locked AS (SELECT a.attempt_id FROM attempts a JOIN hb USING (attempt_id) "
        "  WHERE a.manager_generation = hb.gen ORDER BY a.attempt_id FOR UPDATE OF a) "
        "UPDATE attempts a SET manager_heartbeat_at = clock_timestamp() FROM chains c, hb "
        "WHERE a.attempt_id IN (SELECT attempt_id FROM locked) AND a.attempt_id = hb.attempt_id "
        "AND c.chain_id = a.chain_id AND a.manager_generation = hb.gen "
        "RETURNING a.attempt_id, a.manager_generation, a.state, "
        "a.stop_requested_at IS NOT NULL OR c.stop_requested AS stop_requested, "
        "a.suspend_requested_at IS NOT NULL AS suspend_requested, a.suspend_reason, "
        "a.go_suspend_at IS NOT NULL AS go_suspend, "
        "coalesce(extract(epoch FROM clock_timestamp() - a.suspend_requested_at), 0)::float8 "
        "AS seconds_since_suspend_request",
        ids, gens);
    for (const auto& r : rows) {
      beaten[{r["attempt_id"].as<int64_t>(), r["manager_generation"].as<int64_t>()}] =
          pg_rows::ReadControl(r);
    }
    if (beaten.size() < keys.size()) {
      // Some pair matched no row: a later claim superseded that manager (or no such attempt).
      for (const auto& r : tx.exec_params("SELECT attempt_id, manager_generation FROM attempts "
                                          "WHERE attempt_id = ANY($1::bigint[])",
                                          ids)) {
        current[r[0].as<int64_t>()] = r[1].as<int64_t>();
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::vector<absl::StatusOr<ControlState>> out;
  out.reserve(keys.size());
  for (const HeartbeatKey& k : keys) {
    if (auto it = beaten.find({k.attempt_id, k.generation}); it != beaten.end()) {
      out.emplace_back(it->second);
    } else if (auto c = current.find(k.attempt_id); c != current.end()) {
      out.emplace_back(ManagerSuperseded(k.generation, c->second));
    } else {
      out.emplace_back(absl::NotFoundError(absl::StrCat("no attempt ", k.attempt_id)));
    }
  }
  return out;
}

}  // namespace hai::manager
