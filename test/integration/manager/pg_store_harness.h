// The StoreHarness (test/unit/manager/attempt_store_contract.h) over Postgres: seeds attempts
// in a test database and plays haid and users with SQL. The store under test is a
// PgAttemptStore (pg_attempt_store_test) or, overriding StoreOf, the manager API's
// RemoteAttemptStore against haid's service over the same database (remote_attempt_store_test).
#pragma once

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/lifecycle/attempt_writer.h"
#include "manager/pg/pg_attempt_store.h"
#include "test/support/test_env.h"
#include "test/unit/manager/attempt_store_contract.h"

namespace hai::manager::testing {

using hai::testing::TestDatabase;

inline TestDatabase& Db() {
  static TestDatabase* const db = [] {
    TestDatabase* d = TestDatabase::Create().release();
    d->Exec(
        "INSERT INTO users (user_name, token_hash) VALUES ('alice', repeat('a', 64)) "
        "ON CONFLICT DO NOTHING");
    return d;
  }();
  return *db;
}

inline const ManagerIdentity kMe{4242, "test-host", 987654};

// Seeds a chain (open names must be unique per user) and a 'scheduled' attempt with pods.
inline int64_t SeedAttempt(int ranks, const std::string& chain_columns = "",
                           const std::string& chain_values = "") {
  static int n = 0;
  const std::string chain = Db().Query(absl::StrCat(
      "INSERT INTO chains (name, user_name, kind, node_group, priority, nodes, entrypoint",
      chain_columns, ") VALUES ('c", ++n, "', 'alice', 'bash', 'default', 10, ", ranks,
      ", '/work/job.sh'", chain_values, ") RETURNING chain_id"));
  const std::string attempt = Db().Query(absl::StrCat(
      "INSERT INTO attempts (chain_id, attempt_no, state, tier, scheduled_at) VALUES (", chain,
      ", 1, 'scheduled', 10, now()) RETURNING attempt_id"));
  for (int rank = 0; rank < ranks; ++rank) {
    Db().Exec(absl::StrCat("INSERT INTO pods (attempt_id, rank, node, gpus) VALUES (", attempt,
                           ", ", rank, ", 'n", rank, "', '{0,3}')"));
  }
  return std::stoll(attempt);
}

class PgHarness : public StoreHarness {
 public:
  AttemptStore& Seed(int ranks) override {
    attempt_ = SeedAttempt(ranks);
    return StoreOf(attempt_);
  }
  model::AttemptState AttemptState() override {
    return model::AttemptStateFromDb(Where("SELECT state FROM attempts"));
  }
  model::PodState PodState(int rank) override {
    return model::PodStateFromDb(
        Where("SELECT state FROM pods", absl::StrCat(" AND rank = ", rank)));
  }
  bool Requeued() override {
    return Db().Query(absl::StrCat("SELECT count(*) FROM attempts WHERE state = 'queued' AND "
                                   "chain_id = (SELECT chain_id FROM attempts WHERE attempt_id = ",
                                   attempt_, ")")) == "1";
  }
  void EndElsewhere() override {
    // What haid writes when it gives up on a lost manager.
    auto conn = Db().Connect();
    pqxx::work tx(*conn);
    auto ended = lifecycle::EndAttempt(tx, attempt_,
                                       {.state = model::AttemptState::kFailed,
                                        .reason = "manager lost",
                                        .actor = "haid",
                                        .live_pods_become = model::PodState::kLost});
    ASSERT_TRUE(ended.ok()) << ended.status();
    tx.commit();
  }
  void RequestStop(const std::string& actor) override {
    // As haid's ControlStore records a user's stop.
    Db().Exec(absl::StrCat(
        "UPDATE chains SET stop_requested = true WHERE chain_id = ", ChainOf(), ";",
        "UPDATE attempts SET stop_requested_at = clock_timestamp() WHERE attempt_id = ", attempt_,
        ";", "INSERT INTO task_events (chain_id, attempt_id, kind, actor) VALUES (", ChainOf(),
        ", ", attempt_, ", 'stop_requested', '", actor, "')"));
  }
  void RequestSuspend(const std::string& reason) override {
    Db().Exec(absl::StrCat("UPDATE attempts SET suspend_requested_at = clock_timestamp(), ",
                           "suspend_reason = '", reason, "' WHERE attempt_id = ", attempt_));
  }
  void GoSuspend() override {
    Db().Exec(absl::StrCat("UPDATE attempts SET go_suspend_at = clock_timestamp() ",
                           "WHERE attempt_id = ", attempt_));
  }
  ClaimResult ClaimByOther() override {
    // A successor manager (another pid and host) claims through its own PgAttemptStore.
    auto other = PgAttemptStore::Connect(Db().url(), attempt_, {kMe.pid + 1, "other-host"});
    EXPECT_TRUE(other.ok()) << other.status();
    other_ = *std::move(other);
    auto claim = other_->Claim(std::string(64, 'd'));
    EXPECT_TRUE(claim.ok()) << claim.status();
    return claim.ok() ? *std::move(claim) : ClaimResult{};
  }

 protected:
  // The store under test, of the manager `kMe` (a PgAttemptStore of its own connection).
  virtual AttemptStore& StoreOf(int64_t attempt) {
    auto store = PgAttemptStore::Connect(Db().url(), attempt, kMe);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    return *store_;
  }

 private:
  std::string Where(const std::string& select, const std::string& more = "") {
    return Db().Query(absl::StrCat(select, " WHERE attempt_id = ", attempt_, more));
  }
  std::string ChainOf() { return Where("SELECT chain_id FROM attempts"); }

  int64_t attempt_ = 0;
  std::unique_ptr<PgAttemptStore> store_;
  std::unique_ptr<PgAttemptStore> other_;
};

}  // namespace hai::manager::testing
