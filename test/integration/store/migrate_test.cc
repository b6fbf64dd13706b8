// Migrations against the real Postgres: applying twice is a no-op, the schema is complete,
// and the admin-table triggers NOTIFY.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "common/migrate.h"
#include "common/model/states.h"
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
  for (const char* table :
       {"users", "user_groups", "user_group_members", "quota", "storage", "hosts",
        "train_environments", "chains", "attempts", "pods", "task_events", "schema_migrations"}) {
    auto r = tx.exec_params("SELECT to_regclass($1) IS NOT NULL", std::string(table));
    EXPECT_TRUE(r[0][0].as<bool>()) << table;
  }
}

// The quoted words of a constraint or index definition: 'queued'::text -> queued.
std::set<std::string> QuotedWords(const std::string& definition) {
  std::set<std::string> out;
  const std::regex word("'([a-z_]+)'");
  for (auto it = std::sregex_iterator(definition.begin(), definition.end(), word);
       it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

template <typename Array, typename Pred>
std::set<std::string> NamesWhere(const Array& all, Pred keep) {
  std::set<std::string> out;
  for (auto v : all) {
    if (keep(v)) out.insert(std::string(model::Name(v)));
  }
  return out;
}

// The schema's CHECK constraints and the open-attempts index spell the same sets as the enums
// and predicates of common/model: a state added on one side only fails here.
TEST(MigrateTest, StateSetsMatchTheTaskModel) {
  auto db = testing::TestDatabase::Create();
  auto conn = db->Connect();
  pqxx::nontransaction tx(*conn);
  auto check = [&](const std::string& table, const std::string& column) {
    auto r = tx.exec_params(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' "
        "AND conrelid = $1::regclass AND pg_get_constraintdef(oid) LIKE '%(' || $2 || ' %'",
        table, column);
    EXPECT_EQ(r.size(), 1u) << table << "." << column;
    return r.empty() ? std::set<std::string>{} : QuotedWords(r[0][0].as<std::string>());
  };
  auto all = [](auto) { return true; };
  EXPECT_EQ(check("attempts", "state"), NamesWhere(model::kAttemptStates, all));
  EXPECT_EQ(check("pods", "state"), NamesWhere(model::kPodStates, all));
  EXPECT_EQ(check("hosts", "state"), NamesWhere(model::kNodeStates, all));
  EXPECT_EQ(check("chains", "kind"), NamesWhere(model::kTaskKinds, all));
  EXPECT_EQ(check("chains", "final_state"),
            NamesWhere(model::kChainStates, [](model::ChainState s) { return model::IsFinal(s); }));
  auto index = tx.exec("SELECT pg_get_indexdef('attempts_open'::regclass)");
  EXPECT_EQ(
      QuotedWords(index[0][0].as<std::string>()),
      NamesWhere(model::kAttemptStates, [](model::AttemptState s) { return model::IsOpen(s); }));
}

TEST(MigrateTest, AdminEditsNotify) {
  auto db = testing::TestDatabase::Create();
  auto listener = db->Connect();
  struct Receiver : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    std::vector<std::string> payloads;
    void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
  } receiver(*listener, "hai_admin");
  db->Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota) "
      "VALUES ('public','public','node-default-LOW', 3)");
  db->Exec("INSERT INTO hosts (node, node_group, gpus) VALUES ('n1', 'default', 8)");
  for (int i = 0; i < 50 && receiver.payloads.size() < 2; ++i)
    listener->await_notification(0, 100000);
  EXPECT_EQ(receiver.payloads, (std::vector<std::string>{"quota", "hosts"}));
}

// 0005: an insert statement sends one 'inserted' however many attempts it writes; a state
// change still names the attempt and its new state; an update that keeps the state is quiet.
TEST(MigrateTest, AttemptNotifications) {
  auto db = testing::TestDatabase::Create();
  db->Exec("INSERT INTO users (user_name, token_hash) VALUES ('alice', repeat('a', 64))");
  db->Exec(
      "INSERT INTO chains (name, user_name, node_group, priority, nodes, entrypoint) "
      "SELECT 'c' || g, 'alice', 'default', 0, 1, 'x.py' FROM generate_series(1, 3) g");
  auto listener = db->Connect();
  struct Receiver : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    std::vector<std::string> payloads;
    void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
  } receiver(*listener, "hai_attempts");
  db->Exec(
      "INSERT INTO attempts (chain_id, attempt_no, state, tier) "
      "SELECT chain_id, 0, 'queued', 0 FROM chains");
  auto conn = db->Connect();
  pqxx::nontransaction tx(*conn);
  const std::string id = tx.exec("SELECT min(attempt_id) FROM attempts")[0][0].as<std::string>();
  // change_xid still stamped on insert (now by the column default).
  EXPECT_EQ(tx.exec("SELECT count(*) FROM attempts WHERE change_xid = '0'")[0][0].as<int>(), 0);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM chains WHERE change_xid = '0'")[0][0].as<int>(), 0);
  db->Exec("UPDATE attempts SET end_reason = 'x' WHERE attempt_id = " + id);
  db->Exec("UPDATE attempts SET state = 'queued' WHERE attempt_id = " + id);
  db->Exec("UPDATE attempts SET state = 'stopped' WHERE attempt_id = " + id);
  for (int i = 0; i < 50 && receiver.payloads.size() < 2; ++i) {
    listener->await_notification(0, 100000);
  }
  listener->await_notification(0, 200000);  // anything more would arrive now
  EXPECT_EQ(receiver.payloads, (std::vector<std::string>{"inserted", id + ":stopped"}));
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
