// The libpq connection string of haid's and the managers' runtime connections: the configured
// database.url with connect_timeout, statement_timeout and TCP keepalives from [database]
// added (common/pg.h WithOptions). `haid migrate` connects with the bare url, so a long
// migration is not cut off by the statement timeout.
#pragma once

#include <string>

#include "common/config.h"
#include "common/pg.h"

namespace hai {

inline pg::ConnectOptions RuntimeConnectOptions(const DatabaseConfig& db) {
  pg::ConnectOptions o;
  o.connect_timeout = db.connect_timeout;
  o.statement_timeout = db.statement_timeout;
  o.keepalives_idle = db.keepalives_idle;
  o.keepalives_interval = db.keepalives_interval;
  o.keepalives_count = db.keepalives_count;
  return o;
}

inline std::string RuntimeDatabaseUrl(const DatabaseConfig& db) {
  return pg::WithOptions(db.url, RuntimeConnectOptions(db));
}

}  // namespace hai
