// Thin adapter edge over libpqxx: connecting, and mapping libpqxx exceptions to the most
// specific absl::Status so nothing above this layer sees an exception.
#pragma once

#include <exception>
#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hai::pg {

// Opens a connection; Unavailable with the reason when the server cannot be reached.
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url);

// libpq options of a runtime connection (zero durations/counts: not set).
struct ConnectOptions {
  absl::Duration connect_timeout = absl::ZeroDuration();    // connect_timeout (whole seconds, >= 2)
  absl::Duration statement_timeout = absl::ZeroDuration();  // options=-c statement_timeout=<ms>
  absl::Duration keepalives_idle = absl::ZeroDuration();    // keepalives=1 when any is set
  absl::Duration keepalives_interval = absl::ZeroDuration();
  int keepalives_count = 0;
};

// `url` (a postgres:// / postgresql:// URI, or a keyword=value string) with `options` added
// as libpq parameters. A key the url already sets is left as the url has it (a url with its
// own `options` keeps them, and gets no statement_timeout from here).
std::string WithOptions(const std::string& url, const ConnectOptions& options);

// Maps an exception thrown by libpqxx (or anything else) to a Status:
// broken_connection -> Unavailable, unique_violation -> AlreadyExists,
// check/not-null/foreign-key violations and data errors -> InvalidArgument,
// serialization failures -> Aborted, a statement cancelled by statement_timeout (SQLSTATE
// 57014) -> DeadlineExceeded, everything else -> Internal.
absl::Status FromException(const std::exception& e, const std::string& context);

// Locks the chain row of `attempt_id` (FOR UPDATE). Every transaction that changes an
// attempt and touches its chain (an update, or an event insert: its foreign key takes the
// chain's key-share lock) calls this first, so all of them take the chain lock before the
// attempt row. User control (stop, hold, priority) and the manager's end of an attempt lock
// the chain first; a transaction that took the attempt row first deadlocked with them
// (Postgres aborts one of the two).
void LockChainOfAttempt(pqxx::work& tx, int64_t attempt_id);

// Runs fn(work) in a transaction and commits; any exception becomes a Status.
// fn returns absl::Status; a non-OK status aborts the transaction.
template <typename Fn>
absl::Status InTransaction(pqxx::connection& conn, const std::string& context, Fn&& fn) {
  try {
    pqxx::work tx(conn);
    absl::Status s = fn(tx);
    if (!s.ok()) return s;  // tx aborts in its destructor
    tx.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return FromException(e, context);
  }
}

}  // namespace hai::pg
