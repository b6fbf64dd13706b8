// A small fixed-size pool of Postgres connections shared by haid's gRPC handlers, the
// scheduling loop and the HTTP side port. A broken connection is re-opened on next use, so a
// Postgres restart costs one failed call (Unavailable), not a daemon restart.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hai::store {

class ConnectionPool {
 public:
  // Opens one connection up front (Unavailable if it cannot be opened: a wrong URL fails at
  // start) and the other `size - 1` when first needed, so a restarting haid answers /healthz
  // without waiting for a pool's worth of Postgres backends to fork. A call
  // that finds every connection borrowed waits at most `wait_timeout` for one, then fails
  // with Unavailable (gRPC UNAVAILABLE, HTTP 503) instead of queueing without limit.
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Open(
      const std::string& url, int size, absl::Duration wait_timeout = absl::Seconds(5));

  // Runs fn(tx) in a read-write transaction on a pooled connection and commits when fn
  // returns OK. libpqxx exceptions become Status (see common/pg.h).
  absl::Status Write(const std::string& what, const std::function<absl::Status(pqxx::work&)>& fn);
  // Runs fn(tx) in a read-only snapshot transaction.
  absl::Status Read(const std::string& what,
                    const std::function<absl::Status(pqxx::read_transaction&)>& fn);
  // Runs fn(tx) without BEGIN/COMMIT: for ONE statement, which Postgres runs atomically on
  // its own. Saves two round trips on the hot paths (submit, authenticate).
  absl::Status Statement(const std::string& what,
                         const std::function<absl::Status(pqxx::nontransaction&)>& fn);
  // Runs fn(tx) in a read-only REPEATABLE READ transaction: every statement sees one
  // snapshot, so a load and the snapshot's xmin it reports agree (change tracking).
  using SnapshotTransaction = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;
  absl::Status ReadSnapshot(const std::string& what,
                            const std::function<absl::Status(SnapshotTransaction&)>& fn);

  // Lends a connection to fn, which runs its own transactions on it (the manager API runs
  // PgAttemptStore's on it, scheduler/managerapi). Exceptions become Status.
  absl::Status WithConnection(const std::string& what,
                              const std::function<absl::Status(pqxx::connection&)>& fn);

  // Registers a prepared statement on every connection, present and future (libpqxx
  // prepares it on a connection's first use). Hot statements skip Postgres' parse and plan,
  // which was most of its CPU per submit.
  void Prepare(const std::string& name, const std::string& sql);

  const std::string& url() const { return url_; }
  int size() const { return size_; }
  absl::Duration wait_timeout() const { return wait_timeout_; }

 private:
  ConnectionPool(std::string url, absl::Duration wait_timeout)
      : url_(std::move(url)), wait_timeout_(wait_timeout) {}
  // Borrows a live connection (re-opening it if broken); returns it in Release.
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);
  // Borrows a connection, runs fn in a Tx opened on it (one that commits nothing: the read
  // kinds and nontransaction), maps libpqxx exceptions to Status, and gives it back.
  template <typename Tx>
  absl::Status RunIn(const std::string& what, const std::function<absl::Status(Tx&)>& fn);

  bool HasFreeSlot() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return slots_ > 0; }

  const std::string url_;
  const absl::Duration wait_timeout_;
  int size_ = 0;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> prepared_ ABSL_GUARDED_BY(mu_);
  int slots_ ABSL_GUARDED_BY(mu_) = 0;  // connections not borrowed
};

}  // namespace hai::store
