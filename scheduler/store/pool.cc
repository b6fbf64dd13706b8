#include "scheduler/store/pool.h"

#include <poll.h>

#include "absl/strings/str_cat.h"
#include "common/pg.h"

namespace hai::store {
namespace {

// Whether an idle connection was closed by the server. A pooled connection has no query in
// flight and does not LISTEN, so anything readable on its socket is the server's goodbye:
// pg_terminate_backend's FATAL message, or the EOF of a restart. Without this check every
// pooled connection failed its next request once after such an event.
bool ClosedByServer(const pqxx::connection& conn) {
  const int fd = conn.sock();
  if (fd < 0) return true;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Open(const std::string& url,
                                                                     int size,
                                                                     absl::Duration wait_timeout) {
  std::unique_ptr<ConnectionPool> pool(new ConnectionPool(url, wait_timeout));
  absl::MutexLock lock(&pool->mu_);
  auto conn = pg::Connect(url);
  if (!conn.ok()) return conn.status();
  pool->idle_.push_back(std::move(*conn));
  pool->slots_ = size;
  pool->size_ = size;
  return pool;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectionPool::Acquire() {
  std::unique_ptr<pqxx::connection> conn;
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &ConnectionPool::HasFreeSlot), wait_timeout_)) {
      return absl::UnavailableError(absl::StrCat("all ", size_, " Postgres connections busy for ",
                                                 absl::FormatDuration(wait_timeout_),
                                                 " (database.pool_wait_timeout_ms)"));
    }
    --slots_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (conn == nullptr || !conn->is_open() || ClosedByServer(*conn)) {
    auto fresh = pg::Connect(url_);
    if (!fresh.ok()) {
      Release(nullptr);
      return fresh.status();
    }
    conn = std::move(*fresh);
    absl::MutexLock lock(&mu_);
    for (const auto& [name, sql] : prepared_) conn->prepare(name, sql);
  }
  return conn;
}

void ConnectionPool::Release(std::unique_ptr<pqxx::connection> conn) {
  // A waiter in Acquire wakes when the mutex is released and its condition holds.
  absl::MutexLock lock(&mu_);
  if (conn != nullptr && conn->is_open()) idle_.push_back(std::move(conn));
  ++slots_;
}

absl::Status ConnectionPool::Write(const std::string& what,
                                   const std::function<absl::Status(pqxx::work&)>& fn) {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status s = pg::InTransaction(**conn, what, fn);
  Release(std::move(*conn));
  return s;
}

absl::Status ConnectionPool::WithConnection(
    const std::string& what, const std::function<absl::Status(pqxx::connection&)>& fn) {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status s;
  try {
    s = fn(**conn);
  } catch (const std::exception& e) {
    s = pg::FromException(e, what);
  }
  Release(std::move(*conn));
  return s;
}

template <typename Tx>
absl::Status ConnectionPool::RunIn(const std::string& what,
                                   const std::function<absl::Status(Tx&)>& fn) {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status s;
  try {
    Tx tx(**conn);
    s = fn(tx);
  } catch (const std::exception& e) {
    s = pg::FromException(e, what);
  }
  Release(std::move(*conn));
  return s;
}

absl::Status ConnectionPool::Read(const std::string& what,
                                  const std::function<absl::Status(pqxx::read_transaction&)>& fn) {
  return RunIn(what, fn);
}

absl::Status ConnectionPool::Statement(
    const std::string& what, const std::function<absl::Status(pqxx::nontransaction&)>& fn) {
  return RunIn(what, fn);
}

absl::Status ConnectionPool::ReadSnapshot(
    const std::string& what, const std::function<absl::Status(SnapshotTransaction&)>& fn) {
  return RunIn(what, fn);
}

void ConnectionPool::Prepare(const std::string& name, const std::string& sql) {
  absl::MutexLock lock(&mu_);
  prepared_.emplace_back(name, sql);
  // Borrowed connections get it when they are next re-opened; the store registers its
  // statements before any is borrowed.
  for (auto& conn : idle_) conn->prepare(name, sql);
}

}  // namespace hai::store
