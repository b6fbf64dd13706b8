// Migrations against the real Postgres: applying twice is a no-op, the schema is complete,
// and the admin-table triggers NOTIFY.
#include <gtest/gtest.h>

#include "common/migrate.h"
#include "test/support/test_env.h"

namespace hai {
namespace {

TEST(MigrateTest, SecondRunAppliesNothing) {
  auto db = testing::TestDatabase::Create();  // already migrated once
  auto conn = db->Connect();
  auto again = Migrate(*conn, EmbeddedMigrations());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->applied, 0);
  EXPECT_EQ(again->current_version, EmbeddedMigrations().back().version);
  pqxx::nontransaction tx(*conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>(),
            static_cast<int>(EmbeddedMigrations().size()));
}

TEST(MigrateTest, CreatesTheWholeDataModel) {
  auto db = testing::TestDatabase::Create();
  auto conn = db->Connect();
  pqxx::nontransaction tx(*conn);
  for (const char* table : {"users", "user_groups", "user_group_members", "quota", "storage",
                            "hosts", "train_environments", "chains", "attempts", "pods",
                            "task_events", "schema_migrations"}) {
    auto r = tx.exec_params("SELECT to_regclass($1) IS NOT NULL", std::string(table));
    EXPECT_TRUE(r[0][0].as<bool>()) << table;
  }
}

TEST(MigrateTest, AdminEditsNotify) {
  auto db = testing::TestDatabase::Create();
  auto listener = db->Connect();
  struct Receiver : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    std::vector<std::string> payloads;
    void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
  } receiver(*listener, "hai_admin");
  db->Exec("INSERT INTO quota (owner_kind, owner, resource, quota) "
           "VALUES ('public','public','node-default-LOW', 3)");
  db->Exec("INSERT INTO hosts (node, node_group, gpus) VALUES ('n1', 'default', 8)");
  for (int i = 0; i < 50 && receiver.payloads.size() < 2; ++i) listener->await_notification(0, 100000);
  EXPECT_EQ(receiver.payloads, (std::vector<std::string>{"quota", "hosts"}));
}

TEST(MigrateTest, RejectsANewerDatabase) {
  auto db = testing::TestDatabase::Create();
  db->Exec("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')");
  auto conn = db->Connect();
  auto v = SchemaVersion(*conn);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hai
