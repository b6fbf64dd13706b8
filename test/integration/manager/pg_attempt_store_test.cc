// PgAttemptStore against Postgres: the AttemptStore contract suite shared with the in-memory
// fake (test/unit/manager/attempt_store_contract.h), plus what only the database can show:
// the claim maps every column by name, and a pod write takes the chain lock before the pods
// row, so haid ending the attempt meanwhile serialises with it instead of deadlocking.
#include "manager/pg/pg_attempt_store.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/lifecycle/attempt_writer.h"
#include "test/integration/manager/pg_store_harness.h"
#include "test/support/test_env.h"

namespace hai::manager::testing {
namespace {

std::unique_ptr<StoreHarness> MakePg() { return std::make_unique<PgHarness>(); }

INSTANTIATE_TEST_SUITE_P(Postgres, AttemptStoreContract, ::testing::Values(&MakePg));

TEST(PgAttemptStoreTest, ClaimReadsEveryColumnByName) {
  Db().Exec(
      "INSERT INTO train_environments (env_name, image, python, env) VALUES "
      "('torch', 'img:env', '/opt/py', '{\"FROM_ENV\": \"1\", \"N\": 4}') ON CONFLICT DO NOTHING");
  const int64_t attempt =
      SeedAttempt(2, ", args, workdir, env, environment, whole_life_state",
                  ", '[\"a1\", \"a 2\"]', '/work', '{\"MY_VAR\": \"hello\"}', 'torch', 5");
  Db().Exec(absl::StrCat("UPDATE attempts SET tier = 20 WHERE attempt_id = ", attempt));
  auto store = PgAttemptStore::Connect(Db().url(), attempt, kMe);
  ASSERT_TRUE(store.ok()) << store.status();
  auto claim = (*store)->Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim.ok()) << claim.status();
  const AttemptInfo& a = claim->info;
  EXPECT_EQ(a.attempt_id, attempt);
  EXPECT_EQ(a.attempt_no, 1);
  EXPECT_EQ(a.tier, 20);
  EXPECT_EQ(a.state, model::AttemptState::kScheduled);
  EXPECT_EQ(a.chain_name.substr(0, 1), "c");
  EXPECT_EQ(a.user_name, "alice");
  EXPECT_EQ(a.kind, model::TaskKind::kBash);
  EXPECT_EQ(a.node_group, "default");
  EXPECT_EQ(a.entrypoint, "/work/job.sh");
  EXPECT_EQ(a.args, (std::vector<std::string>{"a1", "a 2"}));
  EXPECT_EQ(a.workdir, "/work");
  EXPECT_EQ(a.chain_env, (EnvList{{"MY_VAR", "hello"}}));
  EXPECT_EQ(a.whole_life_state, 5);
  EXPECT_EQ(a.python, "/opt/py");
  EXPECT_EQ(a.train_env, (EnvList{{"FROM_ENV", "1"}, {"N", "4"}}));
  EXPECT_EQ(a.image, "img:env");  // the chain names none: the environment's
  ASSERT_EQ(a.pods.size(), 2u);
  EXPECT_EQ(a.pods[1].rank, 1);
  EXPECT_EQ(a.pods[1].node, "n1");
  EXPECT_EQ(a.pods[1].gpus, (std::vector<int>{0, 3}));
  EXPECT_FALSE(a.pods[1].pid.has_value());
  EXPECT_EQ(Db().Query(absl::StrCat("SELECT manager_pid || '@' || manager_host || '/' || "
                                    "manager_start_time FROM attempts WHERE attempt_id = ",
                                    attempt)),
            "4242@test-host/987654");

  // A chain's own image wins over its environment's.
  const int64_t own = SeedAttempt(1, ", environment, image", ", 'torch', 'img:chain'");
  auto store2 = PgAttemptStore::Connect(Db().url(), own, kMe);
  ASSERT_TRUE(store2.ok()) << store2.status();
  auto claim2 = (*store2)->Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim2.ok()) << claim2.status();
  EXPECT_EQ(claim2->info.image, "img:chain");
}

TEST(PgAttemptStoreTest, PodWriteWaitsForTheChainLockBeforeItsRow) {
  const int64_t attempt = SeedAttempt(1);
  auto store = PgAttemptStore::Connect(Db().url(), attempt, kMe);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Claim(std::string(64, 'b')).ok());
  ASSERT_TRUE((*store)->PodStarted(0, 1234, false).ok());

  // haid begins ending the attempt: the chain row first (EndAttempt's lock order) ...
  auto haid = Db().Connect();
  pqxx::work tx(*haid);
  tx.exec_params(
      "SELECT 1 FROM chains WHERE chain_id = (SELECT chain_id FROM attempts "
      "WHERE attempt_id = $1) FOR UPDATE",
      attempt);
  const std::string haid_pid = tx.exec("SELECT pg_backend_pid()")[0][0].as<std::string>();
  // ... while the manager records its rank's end.
  absl::Status pod_ended = absl::UnknownError("not run");
  std::thread manager([&] { pod_ended = (*store)->PodEnded(0, model::PodState::kFailed, 3); });
  // Once the manager's transaction waits on a lock, haid goes on to the pods rows. Had the
  // manager taken its pods row before the chain lock, the two would now deadlock and
  // Postgres would abort one of them.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (Db().Query(absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE datname = '",
                                 Db().name(), "' AND wait_event_type = 'Lock' AND pid <> ",
                                 haid_pid)) != "1" &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::Status haid_end = absl::OkStatus();
  try {
    auto ended = lifecycle::EndAttempt(tx, attempt,
                                       {.state = model::AttemptState::kFailed,
                                        .reason = "manager lost",
                                        .actor = "haid",
                                        .live_pods_become = model::PodState::kLost});
    haid_end = ended.status();
    tx.commit();
  } catch (const std::exception& e) {
    haid_end = absl::AbortedError(e.what());
  }
  manager.join();
  EXPECT_TRUE(haid_end.ok()) << haid_end;
  // haid's end came first: the pod is 'lost', and the manager's write is refused, not lost
  // to a deadlock.
  EXPECT_TRUE(absl::IsFailedPrecondition(pod_ended)) << pod_ended;
  EXPECT_EQ(Db().Query(absl::StrCat("SELECT state FROM pods WHERE attempt_id = ", attempt)),
            "lost");
}

// Two managers for one attempt, as Postgres sees them: the first manager's writes after the
// successor's claim are refused and leave no trace (no row, no task_events, no heartbeat);
// the successor's go through.
TEST(PgAttemptStoreTest, TwoManagersForOneAttemptOnlyTheLastClaimWrites) {
  const int64_t attempt = SeedAttempt(2);
  auto first = PgAttemptStore::Connect(Db().url(), attempt, kMe);
  ASSERT_TRUE(first.ok()) << first.status();
  auto first_claim = (*first)->Claim(std::string(64, 'b'));
  ASSERT_TRUE(first_claim.ok()) << first_claim.status();
  ASSERT_TRUE((*first)->PodStartIntended(0).ok());
  ASSERT_TRUE((*first)->PodStarted(0, 1234, false).ok());

  auto second = PgAttemptStore::Connect(Db().url(), attempt, {4343, "other-host"});
  ASSERT_TRUE(second.ok()) << second.status();
  auto second_claim = (*second)->Claim(std::string(64, 'b'));
  ASSERT_TRUE(second_claim.ok()) << second_claim.status();
  EXPECT_EQ(second_claim->generation, first_claim->generation + 1);
  EXPECT_EQ(Db().Query(absl::StrCat("SELECT manager_generation FROM attempts WHERE attempt_id = ",
                                    attempt)),
            absl::StrCat(second_claim->generation));

  auto snapshot = [&] {
    return Db().Query(absl::StrCat(
        "SELECT a.state || ' ' || a.manager_heartbeat_at || ' ' || a.task_token_hash || ' ' || "
        "(SELECT string_agg(p.state || ':' || coalesce(p.pid, 0) || ':' || "
        "coalesce(p.start_generation, 0), ',' ORDER BY p.rank) FROM pods p "
        "WHERE p.attempt_id = a.attempt_id) || ' ' || "
        "(SELECT count(*) FROM task_events e WHERE e.attempt_id = a.attempt_id) "
        "FROM attempts a WHERE a.attempt_id = ",
        attempt));
  };
  const std::string before = snapshot();
  EXPECT_TRUE(IsSuperseded((*first)->Heartbeat().status()));
  EXPECT_TRUE(IsSuperseded((*first)->PodEnded(0, model::PodState::kFailed, 3)));
  EXPECT_TRUE(IsSuperseded((*first)->PodStartIntended(1)));
  EXPECT_TRUE(IsSuperseded((*first)->PodStarted(1, 99, false)));
  EXPECT_TRUE(IsSuperseded((*first)->SetTokenHash(std::string(64, 'e'))));
  EXPECT_TRUE(IsSuperseded(
      (*first)->Finish({model::AttemptState::kFailed, 3, "rank 0 exited with code 3"}).status()));
  EXPECT_EQ(snapshot(), before);

  // The successor writes.
  auto beat = (*second)->Heartbeat();
  EXPECT_TRUE(beat.ok()) << beat.status();
  EXPECT_TRUE((*second)->PodStartIntended(1).ok());
  EXPECT_TRUE((*second)->PodStarted(1, 99, false).ok());
  auto written = (*second)->Finish({model::AttemptState::kSucceeded, 0, "all ranks exited"});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(Db().Query(absl::StrCat("SELECT state FROM attempts WHERE attempt_id = ", attempt)),
            "succeeded");
}

}  // namespace
}  // namespace hai::manager::testing
