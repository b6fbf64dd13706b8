// The libpq connection string of runtime connections: connect_timeout, statement_timeout and
// TCP keepalives from [database] are added to the configured url in either libpq syntax, and
// never replace what the url sets itself.
#include "common/db_url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hai {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DbUrlTest, DefaultsAddTimeoutsAndKeepalivesToAUri) {
  DatabaseConfig db;
  db.url = "postgresql://hai@127.0.0.1:5433/hai";
  EXPECT_EQ(RuntimeDatabaseUrl(db),
            "postgresql://hai@127.0.0.1:5433/hai?connect_timeout=5&keepalives=1"
            "&keepalives_idle=30&keepalives_interval=10&keepalives_count=3"
            "&options=-c%20statement_timeout%3D30000");
}

TEST(DbUrlTest, AppendsToAnExistingQueryAndKeepsTheUrlsOwnKeys) {
  DatabaseConfig db;
  db.url = "postgres://h/db?sslmode=disable&connect_timeout=9&options=-c%20work_mem%3D64MB";
  db.statement_timeout = absl::Seconds(2);
  const std::string url = RuntimeDatabaseUrl(db);
  EXPECT_THAT(url, HasSubstr("?sslmode=disable&connect_timeout=9&options=-c%20work_mem%3D64MB"
                             "&keepalives=1"));
  EXPECT_THAT(url, Not(HasSubstr("connect_timeout=5")));
  EXPECT_THAT(url, Not(HasSubstr("statement_timeout")));
}

TEST(DbUrlTest, KeywordValueStringsGetKeywordValuePairs) {
  pg::ConnectOptions o;
  o.connect_timeout = absl::Milliseconds(500);  // libpq's minimum is 2 s
  o.statement_timeout = absl::Milliseconds(1500);
  o.keepalives_idle = absl::Seconds(7);
  EXPECT_EQ(pg::WithOptions("host=db dbname=hai keepalives_idle = 60", o),
            "host=db dbname=hai keepalives_idle = 60 connect_timeout=2 keepalives=1 "
            "options='-c statement_timeout=1500'");
}

TEST(DbUrlTest, ZeroMeansNotSet) {
  EXPECT_EQ(pg::WithOptions("postgresql://h/db", pg::ConnectOptions{}), "postgresql://h/db");
  DatabaseConfig db;
  db.url = "postgresql://h/db";
  db.statement_timeout = absl::ZeroDuration();
  EXPECT_THAT(RuntimeDatabaseUrl(db), Not(HasSubstr("options=")));
}

}  // namespace
}  // namespace hai
