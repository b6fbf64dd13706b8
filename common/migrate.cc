#include "common/migrate.h"

#include "absl/strings/str_cat.h"
#include "common/pg.h"

namespace hai {
namespace {
// Arbitrary constant key for pg_advisory_lock: "hai migrate".
constexpr int64_t kMigrateLockKey = 0x6861692d6d6967;

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
}  // namespace

absl::StatusOr<MigrateResult> Migrate(pqxx::connection& conn,
                                      const std::vector<Migration>& migrations) {
  MigrateResult result;
  try {
    pqxx::nontransaction lock_tx(conn);
    lock_tx.exec_params("SELECT pg_advisory_lock($1)", kMigrateLockKey);
    lock_tx.exec(kCreateTable);
  } catch (const std::exception& e) {
    return pg::FromException(e, "migrate: prepare");
  }
  absl::Status status;
  for (const Migration& m : migrations) {
    status = pg::InTransaction(conn, absl::StrCat("migrate: ", m.version, "_", m.name),
                               [&](pqxx::work& tx) -> absl::Status {
      auto done = tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
      if (!done.empty()) return absl::OkStatus();
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                     m.name);
      ++result.applied;
      return absl::OkStatus();
    });
    if (!status.ok()) break;
  }
  try {
    pqxx::nontransaction unlock_tx(conn);
    unlock_tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrateLockKey);
  } catch (const std::exception& e) {
    if (status.ok()) status = pg::FromException(e, "migrate: unlock");
  }
  if (!status.ok()) return status;
  auto version = SchemaVersion(conn);
  if (!version.ok()) return version.status();
  result.current_version = *version;
  return result;
}

absl::StatusOr<int> SchemaVersion(pqxx::connection& conn) {
  try {
    pqxx::nontransaction tx(conn);
    auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return 0;
    auto r = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    int version = r[0][0].as<int>();
    int newest = EmbeddedMigrations().empty() ? 0 : EmbeddedMigrations().back().version;
    if (version > newest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema version ", version, " is newer than this binary (", newest,
          "); upgrade hai"));
    }
    return version;
  } catch (const std::exception& e) {
    return pg::FromException(e, "schema version");
  }
}

}  // namespace hai
