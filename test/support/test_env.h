// Test support for integration and e2e tests: a fresh, migrated database per test binary in
// the Postgres that scripts/test.sh starts (HAI_PG_URL), and the Redis port (HAI_REDIS_PORT).
// Tests fail loudly (never skip) when those services are missing: a skipped integration test
// would be a test that cannot fail.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace hai::testing {

// A database created for this test binary (name hai_t_<pid>_<counter>), migrated to the
// newest schema; dropped on destruction.
class TestDatabase {
 public:
  // Aborts the test binary with a clear message if HAI_PG_URL is unset or unreachable.
  static std::unique_ptr<TestDatabase> Create();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // A new connection to this database.
  std::unique_ptr<pqxx::connection> Connect() const;
  // Runs SQL statements (e.g. seed rows); aborts the test on error.
  void Exec(const std::string& sql) const;
  // The first column of the first row as text ("" for no row or NULL).
  std::string Query(const std::string& sql) const;
  // The first column of every row as text (NULL as "").
  std::vector<std::string> Column(const std::string& sql) const;

 private:
  TestDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// Port of the test Redis (HAI_REDIS_PORT); aborts if unset.
int RedisPort();

// Directory of the build tree's binaries (where haid, hai-manager, hai-cli are), from
// HAI_BIN_DIR or the compile-time default.
std::string BinDir();
// A fresh temporary directory under $TMPDIR, removed by the caller if wanted.
std::string MakeTempDir(const std::string& prefix);

}  // namespace hai::testing
