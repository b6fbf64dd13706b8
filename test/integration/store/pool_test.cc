// The connection pool's bounds against the real Postgres: a call that finds every connection
// borrowed fails with Unavailable after the pool's wait timeout instead of waiting without
// limit, and runtime connections carry statement_timeout (a statement past it fails with
// DeadlineExceeded), connect_timeout and TCP keepalives, while the bare url (migrations) has
// no statement timeout.
#include "scheduler/store/pool.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/pg.h"
#include "test/support/test_env.h"

namespace hai::store {
namespace {

using ::hai::testing::TestDatabase;
using ::testing::HasSubstr;

absl::Status Select1(ConnectionPool& pool) {
  return pool.Read("select 1", [](pqxx::read_transaction& tx) {
    tx.exec("SELECT 1");
    return absl::OkStatus();
  });
}

// The fault campaign's finding: after pg_terminate_backend (or a Postgres restart) every
// pooled connection failed its next request once ("not connected"), so a submit was refused
// as if haid were down. A connection the server has closed is replaced before it is lent.
TEST(PoolTest, AConnectionTheServerClosedIsReplacedBeforeUse) {
  auto db = TestDatabase::Create();
  auto pool = ConnectionPool::Open(db->url(), 2, absl::Seconds(1));
  ASSERT_TRUE(pool.ok()) << pool.status();
  for (int round = 0; round < 3; ++round) {
    auto admin = db->Connect();
    pqxx::nontransaction tx(*admin);
    tx.exec(
        absl::StrCat("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                     "current_database() AND pid <> pg_backend_pid()"));
    absl::SleepFor(absl::Milliseconds(100));  // the FATAL message reaches the sockets
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(Select1(**pool).ok()) << round << " " << i;
  }
}

TEST(PoolTest, WaitingForABusyPoolTimesOutWithUnavailable) {
  auto db = TestDatabase::Create();
  auto pool = ConnectionPool::Open(db->url(), 1, absl::Milliseconds(300));
  ASSERT_TRUE(pool.ok()) << pool.status();
  absl::Notification borrowed, release;
  std::thread holder([&] {
    absl::Status s = (*pool)->Read("hold", [&](pqxx::read_transaction&) {
      borrowed.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  borrowed.WaitForNotification();
  const absl::Time start = absl::Now();
  absl::Status s = Select1(**pool);
  const absl::Duration waited = absl::Now() - start;
  release.Notify();
  holder.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("pool_wait_timeout_ms"));
  EXPECT_GE(waited, absl::Milliseconds(300));
  EXPECT_LT(waited, absl::Seconds(3));
  // Given back, the connection serves the next call.
  EXPECT_TRUE(Select1(**pool).ok());
}

TEST(PoolTest, RuntimeConnectionsCarryTimeoutsAndKeepalives) {
  auto db = TestDatabase::Create();
  pg::ConnectOptions o;
  o.connect_timeout = absl::Seconds(4);
  o.statement_timeout = absl::Milliseconds(250);
  o.keepalives_idle = absl::Seconds(31);
  o.keepalives_interval = absl::Seconds(11);
  o.keepalives_count = 4;
  auto pool = ConnectionPool::Open(pg::WithOptions(db->url(), o), 1);
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::string timeout;
  int keepalive = 0, idle = 0, interval = 0, count = 0;
  ASSERT_TRUE((*pool)
                  ->Read("show",
                         [&](pqxx::read_transaction& tx) {
                           timeout = tx.exec1("SHOW statement_timeout")[0].as<std::string>();
                           // libpq set the keepalives on its TCP socket.
                           const int fd = tx.conn().sock();
                           socklen_t len = sizeof(int);
                           getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &len);
                           getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
                           getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, &len);
                           getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, &len);
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(timeout, "250ms");
  EXPECT_EQ(keepalive, 1);
  EXPECT_EQ(idle, 31);
  EXPECT_EQ(interval, 11);
  EXPECT_EQ(count, 4);

  // A statement past the timeout fails with a typed error, and the connection still works.
  const absl::Time start = absl::Now();
  absl::Status s = (*pool)->Read("sleep", [](pqxx::read_transaction& tx) {
    tx.exec("SELECT pg_sleep(5)");
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(Select1(**pool).ok());

  // The bare url (what `haid migrate` uses) has no statement timeout.
  auto bare = db->Connect();
  pqxx::nontransaction tx(*bare);
  EXPECT_EQ(tx.exec1("SHOW statement_timeout")[0].as<std::string>(), "0");
}

}  // namespace
}  // namespace hai::store
