// The store against the real Postgres: chains round-trip with everything a submit carries,
// scheduler decisions are guarded (a stale one fails alone and changes nothing), user
// operations follow the task model, and config nodes register without clobbering admin edits.
#include "scheduler/store/store.h"
#include "common/lifecycle/attempt_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/auth.h"
#include "test/support/test_env.h"

namespace hai::store {
namespace {

using ::hai::testing::TestDatabase;
using ::testing::ElementsAre;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create();
    db_->Exec("INSERT INTO users (user_name, role, token_hash) VALUES ('alice', 'internal', '" +
              HashToken("alice-token") + "')");
    auto pool = ConnectionPool::Open(db_->url(), 2);
    ASSERT_TRUE(pool.ok()) << pool.status();
    store_ = std::make_unique<Store>(*std::move(pool));
  }

  NewChain Sample(const std::string& name = "train") {
    NewChain c;
    c.name = name;
    c.user = "alice";
    c.group = "default";
    c.nodes = 2;
    c.entrypoint = "/work/train.py";
    c.args = {"--lr", "0.1", "quote'and\"json{"};
    c.workdir = "/work";
    c.env = {{"A", "1"}, {"PYTHONPATH", "/x:/y"}};
    return c;
  }

  int64_t Scalar(const std::string& sql) {
    auto conn = db_->Connect();
    pqxx::nontransaction tx(*conn);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  // What a manager writes when its attempt's ranks went after a suspend notice.
  absl::StatusOr<lifecycle::Ended> SuspendAsManager(int64_t attempt) {
    auto conn = db_->Connect();
    pqxx::work tx(*conn);
    auto ended = lifecycle::EndAttempt(
        tx, attempt,
        {.state = model::AttemptState::kSuspended, .reason = "preempted", .actor = "manager"});
    if (ended.ok()) tx.commit();
    return ended;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, ChainRoundTripsEverythingASubmitCarries) {
  auto created = store_->CreateChain(Sample(), 10);
  ASSERT_TRUE(created.ok()) << created.status();
  auto got = store_->GetChain(created->row.chain_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->row.name, "train");
  EXPECT_THAT(got->row.args, ElementsAre("--lr", "0.1", "quote'and\"json{"));
  EXPECT_EQ(got->row.env.at("PYTHONPATH"), "/x:/y");
  EXPECT_EQ(got->row.nodes, 2);
  ASSERT_EQ(got->attempts.size(), 1u);
  EXPECT_EQ(got->attempts[0].state, model::AttemptState::kQueued);
  EXPECT_EQ(got->State(), model::ChainState::kQueued);
  auto open = store_->LoadOpenAttempts();
  ASSERT_TRUE(open.ok()) << open.status();
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].chain.env.at("A"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM task_events WHERE kind = 'submitted'"), 1);
}

// The time limit (migration 0006): stored when given, NULL (read back as 0) when not, and
// carried to the open attempts the scheduler's snapshot is built from.
TEST_F(StoreTest, TimeLimitRoundTripsAndZeroIsNone) {
  NewChain limited = Sample("limited");
  limited.time_limit_s = 5400;
  auto a = store_->CreateChain(limited, 10);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->row.time_limit_s, 5400);
  auto b = store_->CreateChain(Sample("unlimited"), 10);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->row.time_limit_s, 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM chains WHERE time_limit_s IS NULL"), 1);
  auto open = store_->LoadOpenAttempts();
  ASSERT_TRUE(open.ok()) << open.status();
  for (const OpenAttempt& o : *open) {
    EXPECT_EQ(o.chain.time_limit_s, o.chain.name == "limited" ? 5400 : 0) << o.chain.name;
  }
}

TEST_F(StoreTest, OpenNameIsUniquePerUser) {
  ASSERT_TRUE(store_->CreateChain(Sample("same"), 10).ok());
  auto again = store_->CreateChain(Sample("same"), 10);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_EQ(Scalar("SELECT count(*) FROM chains"), 1);
}

TEST_F(StoreTest, ScheduleIsGuardedAgainstStaleDecisions) {
  auto c = store_->CreateChain(Sample(), 10);
  ASSERT_TRUE(c.ok());
  const int64_t attempt = c->attempts[0].attempt_id;
  std::vector<policy::RankPlacement> placement = {{"node-0", {0, 1}}, {"node-1", {0, 1}}};
  ASSERT_TRUE(store_->ScheduleAttempt(attempt, 10, placement).ok());
  auto got = store_->GetChain(c->row.chain_id);
  ASSERT_EQ(got->attempts[0].pods.size(), 2u);
  EXPECT_EQ(got->attempts[0].pods[1].node, "node-1");
  EXPECT_THAT(got->attempts[0].pods[1].gpus, ElementsAre(0, 1));
  // A second decision on the same attempt (e.g. from a stale pass) fails and adds nothing.
  auto stale = store_->ScheduleAttempt(attempt, 10, placement);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition) << stale;
  EXPECT_EQ(Scalar("SELECT count(*) FROM pods"), 2);
}

// A stop locks the chain first, then the attempt (control_store.cc). A scheduling decision
// on the same chain at the same moment must take the locks in that order too: it used to
// update the attempt first and then wait for the chain (its event insert), so the two
// deadlocked and Postgres aborted one of them (seen as a failed `jupyter stop` right after
// `jupyter create`). Here the stop holds the chain while the decision runs; the decision
// must wait without holding the attempt, the stop must go through, and the decision then
// finds the attempt no longer queued.
TEST_F(StoreTest, ScheduleWaitsForAStopHoldingTheChainInsteadOfDeadlocking) {
  auto c = store_->CreateChain(Sample(), 10);
  ASSERT_TRUE(c.ok());
  const int64_t chain = c->row.chain_id;
  const int64_t attempt = c->attempts[0].attempt_id;
  auto stopper = db_->Connect();
  pqxx::work stop(*stopper);
  stop.exec_params("SELECT 1 FROM chains WHERE chain_id = $1 FOR UPDATE", chain);

  absl::Status scheduled;
  std::thread decision([&] {
    scheduled = store_->ScheduleAttempt(attempt, 10, {{"node-0", {0}}, {"node-1", {0}}});
  });
  // Wait (bounded) until the decision is blocked on a lock held by the stop.
  bool blocked = false;
  for (int i = 0; i < 1000 && !blocked; ++i) {
    blocked = Scalar(
                  "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                  "AND datname = current_database()") > 0;
    if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(blocked) << "the decision never waited for the chain lock";
  try {
    stop.exec_params(
        "UPDATE attempts SET state = 'stopped', ended_at = clock_timestamp() "
        "WHERE attempt_id = $1",
        attempt);
    stop.commit();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the stop was aborted: " << e.what();
  }
  decision.join();
  EXPECT_EQ(scheduled.code(), absl::StatusCode::kFailedPrecondition) << scheduled;
  EXPECT_EQ(Scalar("SELECT count(*) FROM pods"), 0);
}

TEST_F(StoreTest, StopOfAQueuedChainEndsItAtOnceAndIsIdempotent) {
  auto c = store_->CreateChain(Sample(), 10);
  ASSERT_TRUE(c.ok());
  auto first = store_->RequestStop(c->row.chain_id, "alice");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, StopOutcome::kStoppedNow);
  EXPECT_EQ(store_->GetChain(c->row.chain_id)->State(), model::ChainState::kStopped);
  auto second = store_->RequestStop(c->row.chain_id, "alice");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, StopOutcome::kAlreadyOver);
  // The name is free again once the chain is over.
  EXPECT_TRUE(store_->CreateChain(Sample(), 10).ok());
}

TEST_F(StoreTest, StopOfARunningChainIsRequestedForItsManager) {
  auto c = store_->CreateChain(Sample(), 10);
  const int64_t attempt = c->attempts[0].attempt_id;
  ASSERT_TRUE(store_->ScheduleAttempt(attempt, 10, {{"node-0", {}}, {"node-1", {}}}).ok());
  auto out = store_->RequestStop(c->row.chain_id, "alice");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, StopOutcome::kStopRequested);
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts WHERE stop_requested_at IS NOT NULL"), 1);
  // Suspending a stopping attempt is refused only once it ended; the manager decides.
  ASSERT_TRUE(store_->FailAttempt(attempt, "test", {}, "").ok());
  EXPECT_EQ(store_->RequestSuspend(attempt, 0, "x", "scheduler").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, HoldAndResumeRequeueInTheOldPlace) {
  auto c = store_->CreateChain(Sample(), 10);
  const int64_t first_submit =
      Scalar("SELECT (extract(epoch FROM first_submit_at)*1e6)::bigint FROM chains");
  auto held = store_->HoldChain(c->row.chain_id, "alice");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(*held, 0);  // nothing was running
  ASSERT_TRUE(store_->ResumeChain(c->row.chain_id, "alice").ok());
  auto got = store_->GetChain(c->row.chain_id);
  // The held attempt ended; a new queued one waits (users see the chain as "suspended"
  // until it runs again), keeping the chain's first-submit time, so its place in line.
  ASSERT_EQ(got->attempts.size(), 2u);
  EXPECT_EQ(got->attempts[0].state, model::AttemptState::kSuspended);
  EXPECT_EQ(got->attempts[1].state, model::AttemptState::kQueued);
  EXPECT_EQ(got->attempts[1].attempt_no, 1);
  EXPECT_EQ(Scalar("SELECT (extract(epoch FROM first_submit_at)*1e6)::bigint FROM chains"),
            first_submit);
}

// The one writer of endings (common/lifecycle) refuses what the model forbids and writes
// nothing then; haid's FailAttempt goes through it.
TEST_F(StoreTest, FailAttemptGoesThroughTheOneWriter) {
  auto c = store_->CreateChain(Sample(), 10);
  const int64_t attempt = c->attempts[0].attempt_id;
  // queued -> failed is not a transition: a queued attempt has no manager to give up on.
  EXPECT_EQ(store_->FailAttempt(attempt, "x", {}, "").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Scalar("SELECT count(*) FROM task_events WHERE kind = 'failed'"), 0);
  ASSERT_TRUE(store_->ScheduleAttempt(attempt, 10, {{"node-0", {}}, {"node-1", {}}}).ok());
  ASSERT_TRUE(store_->FailAttempt(attempt, "manager died 3 times", {}, "").ok());
  EXPECT_EQ(store_->FailAttempt(attempt, "again", {}, "").code(),
            absl::StatusCode::kFailedPrecondition);
  auto got = store_->GetChain(c->row.chain_id);
  EXPECT_EQ(got->State(), model::ChainState::kFailed);
  ASSERT_EQ(got->attempts[0].pods.size(), 2u);
  // Nobody saw the ranks end, so their pods are lost, not stopped.
  EXPECT_EQ(got->attempts[0].pods[0].state, model::PodState::kLost);
  EXPECT_EQ(Scalar("SELECT count(*) FROM task_events WHERE kind = 'failed' AND actor = 'haid'"), 1);
}

// Nodes where haid could not confirm the ranks gone are cordoned in the transaction that
// frees the attempt's GPUs (a cordon or drain an admin set stays as it is).
TEST_F(StoreTest, FailAttemptCordonsTheNodesItCannotConfirmFree) {
  LocalNodeConfig n0, n1;
  n0.name = "node-0";
  n1.name = "node-1";
  n0.gpus = n1.gpus = 8;
  ASSERT_TRUE(store_->UpsertConfigNodes({n0, n1}).ok());
  auto c = store_->CreateChain(Sample(), 10);
  const int64_t attempt = c->attempts[0].attempt_id;
  ASSERT_TRUE(store_->ScheduleAttempt(attempt, 10, {{"node-0", {}}, {"node-1", {}}}).ok());
  ASSERT_TRUE(store_
                  ->FailAttempt(attempt, "manager died 3 times", {"node-1"},
                                "rank 1 could not be confirmed gone")
                  .ok());
  auto hosts = store_->LoadHosts();
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  ASSERT_EQ(hosts->size(), 2u);
  EXPECT_EQ((*hosts)[0].node.state, policy::NodeState::kReady);
  EXPECT_EQ((*hosts)[1].node.state, policy::NodeState::kCordoned);
  EXPECT_EQ((*hosts)[1].state_reason, "rank 1 could not be confirmed gone");
  EXPECT_EQ(store_->GetChain(c->row.chain_id)->State(), model::ChainState::kFailed);
}

// Requeue tier, decided once (model::RequeueTier): the chain's requested priority. Before
// the one writer, a manager's requeue kept the attempt's resolved tier, so an AUTO chain
// suspended once was frozen at the tier it first ran at, while a resume took the chain's.
TEST_F(StoreTest, ASuspendedAttemptIsRequeuedAtTheChainsPriority) {
  NewChain n = Sample();
  n.priority = model::kAutoPriority;
  auto c = store_->CreateChain(n, model::kAutoPriority);
  ASSERT_TRUE(c.ok()) << c.status();
  const int64_t attempt = c->attempts[0].attempt_id;
  ASSERT_TRUE(store_->ScheduleAttempt(attempt, 10, {{"node-0", {}}, {"node-1", {}}}).ok());
  absl::StatusOr<lifecycle::Ended> ended = SuspendAsManager(attempt);
  ASSERT_TRUE(ended.ok()) << ended.status();
  ASSERT_TRUE(ended->requeued.has_value());
  EXPECT_EQ(Scalar("SELECT tier FROM attempts WHERE attempt_no = 1"), model::kAutoPriority);
  EXPECT_EQ(Scalar("SELECT (detail->>'tier')::int FROM task_events WHERE kind = 'requeued'"),
            model::kAutoPriority);
}

// Stop wins over suspend: a chain whose stop was requested is never requeued.
TEST_F(StoreTest, AStopRequestedChainIsStoppedNotRequeuedBySuspension) {
  auto c = store_->CreateChain(Sample(), 10);
  const int64_t attempt = c->attempts[0].attempt_id;
  ASSERT_TRUE(store_->ScheduleAttempt(attempt, 10, {{"node-0", {}}, {"node-1", {}}}).ok());
  ASSERT_TRUE(store_->RequestStop(c->row.chain_id, "alice").ok());
  absl::StatusOr<lifecycle::Ended> ended = SuspendAsManager(attempt);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->state, model::AttemptState::kStopped);
  EXPECT_FALSE(ended->requeued.has_value());
  EXPECT_EQ(store_->GetChain(c->row.chain_id)->State(), model::ChainState::kStopped);
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts"), 1);
}

TEST_F(StoreTest, ConfigNodesRegisterWithoutClobberingAdminCordon) {
  LocalNodeConfig n;
  n.name = "node-0";
  n.gpus = 8;
  ASSERT_TRUE(store_->UpsertConfigNodes({n}).ok());
  db_->Exec("UPDATE hosts SET state = 'cordoned', state_reason = 'disk' WHERE node = 'node-0'");
  n.gpus = 4;  // config changed: capacity follows the config, the cordon stays
  ASSERT_TRUE(store_->UpsertConfigNodes({n}).ok());
  auto hosts = store_->LoadHosts();
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  ASSERT_EQ(hosts->size(), 1u);
  EXPECT_EQ((*hosts)[0].node.gpus, 4);
  EXPECT_EQ((*hosts)[0].node.state, policy::NodeState::kCordoned);
}

TEST_F(StoreTest, TokensAreLookedUpByHashOnly) {
  auto u = store_->UserByTokenHash(HashToken("alice-token"));
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->name, "alice");
  EXPECT_EQ(store_->UserByTokenHash(HashToken("wrong")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Scalar("SELECT count(*) FROM users WHERE token_hash = 'alice-token'"), 0);
}

}  // namespace
}  // namespace hai::store
