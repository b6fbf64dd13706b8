// Usage accounting against the real Postgres: the hosts trigger records every state change
// whoever writes it, and a report over attempts and pods written with known timestamps gives
// the hand-computed GPU-hours (the same history as usage_table_test), from hourly rollups and
// exact edges alike; a non-admin's ledger is their own rows. Over more than a week the report
// reads whole weeks and days from usage_rollups and still equals the exact computation, also
// after old history is edited and its hours are deleted to be recomputed (the stale days and
// week go too).
#include "scheduler/store/usage_store.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "test/support/test_env.h"

namespace hai::store {
namespace {

using ::hai::testing::TestDatabase;
constexpr int64_t kHour = UsageStore::kHour;

class UsageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create();
    for (const char* u : {"alice", "bob"}) {
      db_->Exec(absl::StrCat("INSERT INTO users (user_name, token_hash) VALUES ('", u, "', '",
                             HashToken(absl::StrCat(u, "-token")), "')"));
    }
    db_->Exec("INSERT INTO user_groups (group_name) VALUES ('vision'), ('nlp')");
    db_->Exec("INSERT INTO user_group_members VALUES ('alice', 'vision'), ('bob', 'nlp')");
    auto pool = ConnectionPool::Open(db_->url(), 2);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
  }

  // An hour boundary 11 hours ago (Postgres' clock), in microseconds.
  int64_t T0() {
    return std::stoll(db_->Query(
        "SELECT (extract(epoch from date_trunc('hour', now()) - interval '11 hours') * 1e6)"
        "::bigint"));
  }
  static std::string Ts(int64_t us) {
    return absl::StrCat("(timestamptz 'epoch' + ", us, " * interval '1 microsecond')");
  }
  int64_t Chain(const std::string& user, int priority) {
    return std::stoll(db_->Query(absl::StrCat(
        "INSERT INTO chains (name, user_name, node_group, priority, nodes, entrypoint) VALUES "
        "('t', '",
        user, "', 'default', ", priority, ", 1, '/x') RETURNING chain_id")));
  }
  // Returns the attempt id.
  std::string Attempt(int64_t chain, int no, const std::string& state, int tier, int64_t sched,
                      int64_t started, int64_t ended, const std::string& gpus, int64_t notice = 0,
                      int64_t preemptor = 0) {
    const std::string id = db_->Query(absl::StrCat(
        "INSERT INTO attempts (chain_id, attempt_no, state, tier, scheduled_at, started_at, "
        "ended_at, suspend_requested_at, preemptor_chain_id) VALUES (",
        chain, ", ", no, ", '", state, "', ", tier, ", ", Ts(sched), ", ", Ts(started), ", ",
        Ts(ended), ", ", notice != 0 ? Ts(notice) : "NULL", ", ",
        preemptor != 0 ? absl::StrCat(preemptor) : "NULL", ") RETURNING attempt_id"));
    db_->Exec(absl::StrCat("INSERT INTO pods (attempt_id, rank, node, gpus) VALUES (", id,
                           ", 0, 'gpu-1', '", gpus, "')"));
    return id;
  }
  // The window computed exactly from the history (no rollups), grouped by user.
  std::vector<usage::Row> Exact(int64_t since, int64_t until) {
    std::vector<usage::Row> rows;
    absl::Status s = pool_->Read("exact", [&](pqxx::read_transaction& tx) -> absl::Status {
      const int64_t now =
          tx.exec1("SELECT (extract(epoch from now()) * 1000000)::bigint")[0].as<int64_t>();
      const usage::History h = UsageStore::LoadHistory(tx, since, until, now);
      auto a = usage::Account(h, {.since = since, .until = std::min(until, now)});
      if (!a.ok()) return a.status();
      rows = usage::Group(usage::ToLedger(*a, h), usage::GroupBy::kUser);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return rows;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(UsageStoreTest, HostTriggerRecordsEveryStateChange) {
  db_->Exec("INSERT INTO hosts (node, node_group, gpus) VALUES ('n1', 'default', 4)");
  db_->Exec("UPDATE hosts SET state = 'cordoned', state_reason = 'fan' WHERE node = 'n1'");
  db_->Exec("UPDATE hosts SET state_reason = 'fan 2' WHERE node = 'n1'");  // not a change
  db_->Exec("UPDATE hosts SET gpus = 8 WHERE node = 'n1'");
  db_->Exec("UPDATE hosts SET node = 'n2' WHERE node = 'n1'");
  db_->Exec("DELETE FROM hosts WHERE node = 'n2'");
  EXPECT_EQ(db_->Column("SELECT node || ':' || state || ':' || gpus || ':' || reason "
                        "FROM host_state_log ORDER BY id"),
            (std::vector<std::string>{"n1:ready:4:", "n1:cordoned:4:fan", "n1:cordoned:8:fan 2",
                                      "n1:removed:0:", "n2:cordoned:8:fan 2", "n2:removed:0:"}));
}

TEST_F(UsageStoreTest, ReportMatchesTheHandComputedHistory) {
  const int64_t t0 = T0();
  db_->Exec("INSERT INTO hosts (node, node_group, gpus) VALUES ('gpu-1', 'default', 8)");
  db_->Exec(absl::StrCat("UPDATE host_state_log SET at = ", Ts(t0)));
  db_->Exec(
      absl::StrCat("INSERT INTO host_state_log (node, at, state, node_group, gpus) "
                   "VALUES ('gpu-1', ",
                   Ts(t0 + 8 * kHour), ", 'cordoned', 'default', 8)"));
  const int64_t alice = Chain("alice", 0);
  const int64_t bob = Chain("bob", 30);
  // alice LOW holds 8 GPUs [0h, 4h), preempted by bob with notice at 3h.
  Attempt(alice, 1, "suspended", 0, t0, t0, t0 + 4 * kHour, "{0,1,2,3,4,5,6,7}", t0 + 3 * kHour,
          bob);
  // bob HIGH: GPUs 0-3 over [4h, 6h).
  Attempt(bob, 1, "succeeded", 30, t0 + 4 * kHour, t0 + 4 * kHour, t0 + 6 * kHour, "{0,1,2,3}");
  // alice resumes: placed at 6h, running at 7h (restart), ends at 9h inside the cordon.
  Attempt(alice, 2, "succeeded", 0, t0 + 6 * kHour, t0 + 7 * kHour, t0 + 9 * kHour,
          "{0,1,2,3,4,5,6,7}");

  UsageStore store(*pool_);
  // Half an hour before the history to 10 h after its start: a partial edge, whole hours.
  for (int round = 0; round < 2; ++round) {
    auto r = store.Report(t0 - kHour / 2, t0 + 10 * kHour, std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GE(r->hours_from_rollups, 9);  // hours 0..9 are all closed (now is 11 h later)
    const std::vector<usage::Row> rows = usage::Group(r->ledger, usage::GroupBy::kUser);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].key, "(unallocated)");
    EXPECT_EQ(rows[0].figures.idle, 8 * kHour);
    EXPECT_EQ(rows[0].figures.unavailable, 8 * kHour);
    EXPECT_EQ(rows[1].key, "alice");
    EXPECT_EQ(rows[1].figures.allocated, 56 * kHour);
    EXPECT_EQ(rows[1].figures.lost_to_preemption, 16 * kHour);
    EXPECT_EQ(rows[2].key, "bob");
    EXPECT_EQ(rows[2].figures.allocated, 8 * kHour);
    const std::vector<usage::Row> groups = usage::Group(r->ledger, usage::GroupBy::kGroup);
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[1].key, "nlp");
    EXPECT_EQ(groups[2].key, "vision");
  }
  EXPECT_EQ(db_->Query("SELECT count(*) FROM usage_hours_done"),
            db_->Query("SELECT count(*) FROM usage_hours_done WHERE hour >= " + Ts(t0)));
  // A window that is not hour-aligned on either side, computed exactly: [3.5h, 6.5h).
  auto edge = store.Report(t0 + 7 * kHour / 2, t0 + 13 * kHour / 2, std::string("alice"));
  ASSERT_TRUE(edge.ok()) << edge.status();
  const std::vector<usage::Row> mine = usage::Group(edge->ledger, usage::GroupBy::kUser);
  ASSERT_EQ(mine.size(), 1u);  // only alice's own rows: no unallocated, no bob
  EXPECT_EQ(mine[0].key, "alice");
  EXPECT_EQ(mine[0].figures.allocated, 8 * kHour / 2 + 8 * kHour / 2);
  EXPECT_EQ(mine[0].figures.lost_to_preemption, 8 * kHour);

  EXPECT_EQ(store.Report(t0, t0, std::nullopt).status().code(), absl::StatusCode::kInvalidArgument);
}

void ExpectSameRows(const std::vector<usage::Row>& got, const std::vector<usage::Row>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, want[i].key);
    EXPECT_EQ(got[i].figures, want[i].figures) << got[i].key;
  }
}

TEST_F(UsageStoreTest, WeeksAndDaysFromRollupsEqualTheExactComputation) {
  // From 5 hours before the week before last (weeks start on the epoch's weekday): at least
  // one whole week, then days and hours, to now.
  const int64_t t0 = std::stoll(
      db_->Query("SELECT (extract(epoch from date_bin('168 hours', now(), timestamptz 'epoch') "
                 "- interval '341 hours') * 1e6)::bigint"));
  db_->Exec("INSERT INTO hosts (node, node_group, gpus) VALUES ('gpu-1', 'default', 8)");
  db_->Exec(absl::StrCat("UPDATE host_state_log SET at = ", Ts(t0)));
  // Cordoned over [20h, 26h).
  db_->Exec(absl::StrCat(
      "INSERT INTO host_state_log (node, at, state, node_group, gpus) VALUES ('gpu-1', ",
      Ts(t0 + 20 * kHour), ", 'cordoned', 'default', 8), ('gpu-1', ", Ts(t0 + 26 * kHour),
      ", 'ready', 'default', 8)"));
  const int64_t alice = Chain("alice", 0);
  const int64_t bob = Chain("bob", 30);
  // alice across a midnight, preempted by bob; bob until 50h; alice's restart.
  Attempt(alice, 1, "suspended", 0, t0 + kHour, t0 + kHour, t0 + 30 * kHour, "{0,1,2,3,4,5,6,7}",
          t0 + 29 * kHour, bob);
  const std::string bobs = Attempt(bob, 1, "succeeded", 30, t0 + 30 * kHour,
                                   t0 + 30 * kHour + 60000000, t0 + 50 * kHour, "{0,1,2,3}");
  Attempt(alice, 2, "succeeded", 0, t0 + 31 * kHour, t0 + 32 * kHour, t0 + 40 * kHour, "{4,5,6,7}");

  UsageStore store(*pool_);
  const int64_t since = t0 - kHour / 2;
  const int64_t until = std::stoll(
      db_->Query("SELECT (extract(epoch from now() - interval '45 minutes') * 1e6)::bigint"));
  auto r = store.Report(since, until, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(std::stoi(db_->Query("SELECT count(*) FROM usage_rollups_done WHERE span = 24")), 7);
  EXPECT_GE(std::stoi(db_->Query("SELECT count(*) FROM usage_rollups_done WHERE span = 168")), 1);
  EXPECT_GT(std::stoi(db_->Query("SELECT count(*) FROM usage_rollups WHERE span = 168")), 0);
  EXPECT_EQ(db_->Query(absl::StrCat("SELECT count(*) FROM usage_rollups WHERE start < ", Ts(t0))),
            "0");
  ExpectSameRows(usage::Group(r->ledger, usage::GroupBy::kUser), Exact(since, until));

  // Old history edited by hand (bob ended at 35h), its hours deleted as docs/usage.md says:
  // the next report recomputes them and sums their days and week again.
  db_->Exec(absl::StrCat("UPDATE attempts SET ended_at = ", Ts(t0 + 35 * kHour),
                         " WHERE attempt_id = ", bobs));
  db_->Exec(absl::StrCat("DELETE FROM usage_hourly WHERE hour >= ", Ts(t0 + 30 * kHour),
                         "; DELETE FROM usage_hours_done WHERE hour >= ", Ts(t0 + 30 * kHour)));
  auto again = store.Report(since, until, std::nullopt);
  ASSERT_TRUE(again.ok()) << again.status();
  const std::vector<usage::Row> exact = Exact(since, until);
  ExpectSameRows(usage::Group(again->ledger, usage::GroupBy::kUser), exact);
  ASSERT_EQ(exact.size(), 3u);
  EXPECT_EQ(exact[2].key, "bob");
  EXPECT_EQ(exact[2].figures.allocated, 4 * 5 * kHour);
}

}  // namespace
}  // namespace hai::store
