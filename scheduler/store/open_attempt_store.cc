// Incremental reads of the open attempts for haid's in-memory view (scheduler/loop/
// open_attempts.h): a full read once, then only what transactions wrote since, found through
// the change_xid columns of sql/migrations/0003_change_tracking.sql. Both kinds of read run
// in one REPEATABLE READ snapshot and return that snapshot's xmin as the next watermark.
#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/model/sql_sets.h"
#include "scheduler/store/row_mapping.h"
#include "scheduler/store/store.h"

namespace hai::store {
namespace {

// The watermark: the oldest transaction still running when this snapshot was taken. Every
// change this snapshot does not show was made by a transaction with an xid at or above it.
uint64_t SnapshotXmin(pqxx::transaction_base& tx) {
  auto r = tx.exec("SELECT pg_snapshot_xmin(pg_current_snapshot())::text");
  uint64_t xmin = 0;
  if (!absl::SimpleAtoi(r[0][0].as<std::string>(), &xmin) || xmin == 0) {
    throw std::runtime_error("unreadable snapshot xmin '" + r[0][0].as<std::string>() + "'");
  }
  return xmin;
}

std::string OpenAttemptQuery(const std::string& from_where) {
  return absl::StrCat("SELECT ", kAttemptColumns, ", ", kChainColumns, ", a.state IN ",
                      model::OpenAttemptStatesSql(), " AS is_open ", from_where);
}

constexpr char kChangedAttempts[] = "hai_changed_attempts";
constexpr char kChangedChains[] = "hai_changed_chains";

}  // namespace

void PrepareOpenAttemptStatements(ConnectionPool& pool) {
  // Attempts written since (any state: one that ended must leave the view) ...
  pool.Prepare(kChangedAttempts, OpenAttemptQuery("FROM attempts a JOIN chains c USING (chain_id) "
                                                  "WHERE a.change_xid >= $1::xid8 "
                                                  "OR a.attempt_id = ANY($2::bigint[])"));
  // ... and the open attempts of chains written since (hold, stop, priority).
  pool.Prepare(kChangedChains,
               OpenAttemptQuery(absl::StrCat("FROM chains c JOIN attempts a USING (chain_id) "
                                             "WHERE c.change_xid >= $1::xid8 AND a.state IN ",
                                             model::OpenAttemptStatesSql())));
}

absl::StatusOr<OpenAttemptChanges> Store::LoadOpenAttemptChanges(
    uint64_t since, const std::vector<int64_t>& recheck) {
  OpenAttemptChanges out;
  absl::Status s = pool_->ReadSnapshot(
      "load open attempt changes", [&](ConnectionPool::SnapshotTransaction& tx) {
        out.next_since = SnapshotXmin(tx);
        out.full = since == 0;
        std::map<int64_t, OpenAttempt>& open = out.open;  // both queries may name one
        std::set<int64_t> closed;
        auto take = [&](const pqxx::result& rows) {
          if (rows.empty()) return;
          const AttemptColumns ac(rows[0]);
          const ChainColumns cc(rows[0]);
          const auto is_open = rows[0].column_number("is_open");
          for (const auto& r : rows) {
            OpenAttempt o{AttemptFromRow(r, ac), ChainFromRow(r, cc)};
            const int64_t id = o.attempt.attempt_id;
            if (r[is_open].as<bool>()) {
              open[id] = std::move(o);
            } else {
              closed.insert(id);
            }
          }
        };
        if (out.full) {
          take(tx.exec(OpenAttemptQuery(
              absl::StrCat("FROM attempts a JOIN chains c USING (chain_id) WHERE a.state IN ",
                           model::OpenAttemptStatesSql()))));
        } else {
          const std::string xid = absl::StrCat(since);
          take(tx.exec_prepared(kChangedAttempts, xid, ArrayLiteral(recheck)));
          take(tx.exec_prepared(kChangedChains, xid));
          // A recheck id with no row at all was deleted.
          for (int64_t id : recheck) {
            if (open.count(id) == 0) closed.insert(id);
          }
        }
        std::vector<AttemptRow*> holding;
        for (auto& [id, o] : open) {
          if (model::HoldsNodes(o.attempt.state)) holding.push_back(&o.attempt);
        }
        AttachPods(tx, holding);
        out.closed.assign(closed.begin(), closed.end());
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<int64_t, ManagerLiveness>> Store::LoadManagerLiveness(
    const std::vector<int64_t>& attempt_ids) {
  std::map<int64_t, ManagerLiveness> out;
  if (attempt_ids.empty()) return out;
  absl::Status s = pool_->Read("load manager liveness", [&](pqxx::read_transaction& tx) {
    auto rows = tx.exec_params(
        // Silence by Postgres' clock, never haid's: now() minus the last heartbeat, but no
        // longer than Postgres has been up (managers could not write while it was down).
        "SELECT attempt_id, manager_pid, "
        "(extract(epoch from manager_heartbeat_at) * 1000000)::bigint, manager_host, "
        "manager_start_time, "
        "(extract(epoch from CASE WHEN manager_heartbeat_at IS NULL "
        "  THEN now() - pg_postmaster_start_time() "
        "  ELSE LEAST(now() - manager_heartbeat_at, now() - pg_postmaster_start_time()) "
        "END) * 1000000)::bigint "
        "FROM attempts WHERE attempt_id = ANY($1::bigint[])",
        ArrayLiteral(attempt_ids));
    for (const auto& r : rows) {
      ManagerLiveness l;
      if (!r[1].is_null()) l.pid = r[1].as<int>();
      if (!r[2].is_null()) l.heartbeat_at = absl::FromUnixMicros(r[2].as<int64_t>());
      if (!r[3].is_null()) l.host = r[3].as<std::string>();
      if (!r[4].is_null()) l.start_time = r[4].as<int64_t>();
      // A heartbeat "in the future" (clock_timestamp() after this transaction's now()) is
      // no silence.
      l.silence = absl::Microseconds(std::max<int64_t>(0, r[5].as<int64_t>()));
      out[r[0].as<int64_t>()] = l;
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace hai::store
