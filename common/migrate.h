// Schema migrations: the SQL files of sql/migrations/ are embedded in the binary at build time
// (so `haid migrate` works from any directory and in the slim image) and applied in order,
// each in its own transaction, recorded in schema_migrations. Idempotent and safe to run from
// several processes at once (a Postgres advisory lock serialises them).
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"

namespace hai {

struct Migration {
  int version = 0;        // NNNN prefix of the file name
  std::string name;       // file name without the prefix and .sql
  std::string sql;
};

// The migrations compiled into this binary, ascending by version.
const std::vector<Migration>& EmbeddedMigrations();

struct MigrateResult {
  int applied = 0;         // migrations applied by this call
  int current_version = 0; // highest version recorded afterwards
};

absl::StatusOr<MigrateResult> Migrate(pqxx::connection& conn,
                                      const std::vector<Migration>& migrations);

// Highest applied version, or 0 on an empty database. FailedPrecondition when the database
// is newer than this binary (a downgrade), so haid refuses to run against it.
absl::StatusOr<int> SchemaVersion(pqxx::connection& conn);

}  // namespace hai
