#include "test/support/test_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/migrate.h"

namespace hai::testing {
namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "test environment: %s\n", msg.c_str());
  std::abort();
}

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    Die(absl::StrCat(name, " is not set; run the tests through scripts/test.sh, which starts "
                           "a private Postgres and Redis"));
  }
  return v;
}

// Replaces the database name (the path after the last '/') of a postgresql:// URL.
std::string WithDatabase(const std::string& url, const std::string& db) {
  auto q = url.find('?');
  std::string base = url.substr(0, q);
  std::string query = q == std::string::npos ? "" : url.substr(q);
  auto slash = base.rfind('/');
  if (slash == std::string::npos || slash < std::string("postgresql://").size()) {
    return absl::StrCat(base, "/", db, query);
  }
  return absl::StrCat(base.substr(0, slash + 1), db, query);
}

}  // namespace

std::unique_ptr<TestDatabase> TestDatabase::Create() {
  static std::atomic<int> counter{0};
  const std::string admin = RequireEnv("HAI_PG_URL");
  const std::string name = absl::StrCat("hai_t_", getpid(), "_", counter++);
  try {
    pqxx::connection c(admin);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + name);
    tx.exec("CREATE DATABASE " + name);
  } catch (const std::exception& e) {
    Die(absl::StrCat("cannot create test database via ", admin, ": ", e.what()));
  }
  std::unique_ptr<TestDatabase> db(new TestDatabase(admin, name, WithDatabase(admin, name)));
  auto conn = db->Connect();
  auto migrated = Migrate(*conn, EmbeddedMigrations());
  if (!migrated.ok()) Die(absl::StrCat("migrate test database: ", migrated.status().ToString()));
  return db;
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: a leftover test database is harmless and dropped by the next run's cleanup.
  }
}

std::unique_ptr<pqxx::connection> TestDatabase::Connect() const {
  try {
    return std::make_unique<pqxx::connection>(url_);
  } catch (const std::exception& e) {
    Die(absl::StrCat("connect to test database: ", e.what()));
  }
}

void TestDatabase::Exec(const std::string& sql) const {
  try {
    auto c = Connect();
    pqxx::work tx(*c);
    tx.exec(sql);
    tx.commit();
  } catch (const std::exception& e) {
    Die(absl::StrCat("test SQL failed: ", e.what(), "\n", sql));
  }
}

std::string TestDatabase::Query(const std::string& sql) const {
  auto conn = Connect();
  pqxx::work tx(*conn);
  auto r = tx.exec(sql);
  tx.commit();
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

std::vector<std::string> TestDatabase::Column(const std::string& sql) const {
  auto conn = Connect();
  pqxx::work tx(*conn);
  std::vector<std::string> out;
  for (const auto& row : tx.exec(sql)) out.push_back(row[0].is_null() ? "" : row[0].c_str());
  tx.commit();
  return out;
}

int RedisPort() { return std::atoi(RequireEnv("HAI_REDIS_PORT").c_str()); }

std::string BinDir() {
  const char* v = std::getenv("HAI_BIN_DIR");
  if (v != nullptr && *v != '\0') return v;
  return HAI_DEFAULT_BIN_DIR;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
  // Readable by everyone: run as root, the manager runs tasks as their users' uids
  // (docs/security.md), and their scripts live in here.
  ::chmod(tmpl.c_str(), 0755);
  return tmpl;
}

}  // namespace hai::testing
