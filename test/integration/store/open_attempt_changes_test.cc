// Change tracking of open attempts against the real Postgres (sql/migrations/
// 0003_change_tracking.sql, scheduler/store/open_attempt_store.cc) and the loop's in-memory
// copy built from it (scheduler/loop/open_attempts.h). The property that matters: after any
// interleaving of writers, a full load plus the deltas equals a fresh full load, including a
// writer that commits after a later one (transactions commit out of xid order).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "scheduler/loop/open_attempts.h"
#include "scheduler/store/store.h"
#include "test/support/test_env.h"

namespace hai {
namespace {

using ::hai::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class OpenAttemptChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create();
    db_->Exec("INSERT INTO users (user_name, role, token_hash) VALUES ('alice', 'internal', '" +
              std::string(64, 'a') + "')");
    auto pool = store::ConnectionPool::Open(db_->url(), 2);
    ASSERT_TRUE(pool.ok()) << pool.status();
    store_ = std::make_unique<store::Store>(*std::move(pool));
  }

  int64_t Submit(const std::string& name) {
    store::NewChain c;
    c.name = name;
    c.user = "alice";
    c.group = "default";
    c.entrypoint = "/work/train.py";
    auto created = store_->CreateChain(c, 10);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->attempts[0].attempt_id : 0;
  }

  std::string Q(const std::string& sql) { return db_->Query(sql); }

  // Snapshot xmin is cluster-wide: a transaction of another test in this Postgres keeps it
  // low, and a read then re-reads our older rows too (harmless for haid, but it would make
  // "nothing changed" flaky). Reads until one comes back empty; returns its watermark.
  uint64_t Quiesce(uint64_t since) {
    for (int i = 0; i < 250; ++i) {
      auto r = store_->LoadOpenAttemptChanges(since);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return since;
      since = r->next_since;
      if (r->open.empty() && r->closed.empty()) return since;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "change reads never came back empty";
    return since;
  }

  // attempt id -> state and hold, for comparing the copy with a fresh full load.
  static std::map<int64_t, std::string> Digest(const OpenAttemptMap& m) {
    std::map<int64_t, std::string> out;
    for (const auto& [id, o] : m) {
      out[id] = std::string(model::Name(o.attempt.state)) + (o.chain.hold ? "+hold" : "") +
                "/pods=" + std::to_string(o.attempt.pods.size());
    }
    return out;
  }
  std::map<int64_t, std::string> FreshDigest() {
    OpenAttemptCache fresh;
    EXPECT_TRUE(fresh.Refresh(*store_).ok());
    return Digest(fresh.attempts());
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(OpenAttemptChangesTest, FullLoadThenOnlyWhatChanged) {
  const int64_t a = Submit("a");
  const int64_t b = Submit("b");
  auto full = store_->LoadOpenAttemptChanges(0);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_TRUE(full->full);
  EXPECT_EQ(full->open.size(), 2u);
  EXPECT_GT(full->next_since, 0u);

  // Nothing written: nothing read (once other tests' transactions are out of the way).
  auto none = store_->LoadOpenAttemptChanges(full->next_since);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->full);
  const uint64_t quiet = Quiesce(none->next_since);

  // a is scheduled (with its pod), b ends, c is submitted.
  ASSERT_TRUE(store_->ScheduleAttempt(a, 10, {{"node-0", {0, 1}}}).ok());
  db_->Exec("UPDATE attempts SET state = 'stopped', ended_at = now() WHERE attempt_id = " +
            std::to_string(b));
  const int64_t c = Submit("c");
  auto delta = store_->LoadOpenAttemptChanges(quiet);
  ASSERT_TRUE(delta.ok()) << delta.status();
  std::map<int64_t, const store::OpenAttempt*> open;
  for (const auto& [id, o] : delta->open) open[id] = &o;
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open.at(a)->attempt.state, model::AttemptState::kScheduled);
  ASSERT_EQ(open.at(a)->attempt.pods.size(), 1u);
  EXPECT_THAT(open.at(a)->attempt.pods[0].gpus, ElementsAre(0, 1));
  EXPECT_EQ(open.at(c)->attempt.state, model::AttemptState::kQueued);
  EXPECT_THAT(delta->closed, ElementsAre(b));
}

TEST_F(OpenAttemptChangesTest, ChainEditsBringTheirOpenAttempts) {
  const int64_t a = Submit("a");
  auto full = store_->LoadOpenAttemptChanges(0);
  ASSERT_TRUE(full.ok());
  db_->Exec("UPDATE chains SET hold = true WHERE name = 'a'");
  auto delta = store_->LoadOpenAttemptChanges(full->next_since);
  ASSERT_TRUE(delta.ok()) << delta.status();
  ASSERT_EQ(delta->open.size(), 1u);
  EXPECT_TRUE(delta->open.at(a).chain.hold);
}

TEST_F(OpenAttemptChangesTest, HeartbeatsAreNotChangesButLivenessReadsThem) {
  const int64_t a = Submit("a");
  db_->Exec("UPDATE attempts SET state = 'running', manager_pid = 4242 WHERE attempt_id = " +
            std::to_string(a));
  auto full = store_->LoadOpenAttemptChanges(0);
  ASSERT_TRUE(full.ok());
  const uint64_t quiet = Quiesce(full->next_since);
  const std::string before =
      Q("SELECT change_xid FROM attempts WHERE attempt_id = " + std::to_string(a));
  db_->Exec("UPDATE attempts SET manager_heartbeat_at = now() WHERE attempt_id = " +
            std::to_string(a));
  // The heartbeat kept the row's change_xid, so the per-pass read stays empty ...
  EXPECT_EQ(Q("SELECT change_xid FROM attempts WHERE attempt_id = " + std::to_string(a)), before);
  auto delta = store_->LoadOpenAttemptChanges(quiet);
  ASSERT_TRUE(delta.ok());
  EXPECT_THAT(delta->open, IsEmpty());
  // ... and the liveness read sees it.
  auto live = store_->LoadManagerLiveness({a, 999999});
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ(live->at(a).pid, 4242);
  EXPECT_TRUE(live->at(a).heartbeat_at.has_value());
  EXPECT_FALSE(live->at(a).start_time.has_value());
  EXPECT_LT(live->at(a).silence, absl::Seconds(10));
  // Any other column is a change, even in the same statement as a heartbeat.
  db_->Exec(
      "UPDATE attempts SET manager_heartbeat_at = now(), suspend_requested_at = now() "
      "WHERE attempt_id = " +
      std::to_string(a));
  auto changed = store_->LoadOpenAttemptChanges(delta->next_since);
  ASSERT_TRUE(changed.ok());
  ASSERT_EQ(changed->open.size(), 1u);
  EXPECT_TRUE(changed->open.at(a).attempt.suspend_requested_at.has_value());
}

// Silence is measured by Postgres' clock (now() - heartbeat), whatever haid's clock says, and
// at most as long as Postgres has been up.
TEST_F(OpenAttemptChangesTest, ManagerSilenceIsMeasuredByPostgres) {
  const int64_t a = Submit("a");
  db_->Exec(
      "UPDATE attempts SET state = 'running', manager_pid = 4242, manager_start_time = 77, "
      "manager_heartbeat_at = now() - interval '90 seconds' WHERE attempt_id = " +
      std::to_string(a));
  const int64_t uptime_s =
      std::stoll(Q("SELECT extract(epoch from now() - pg_postmaster_start_time())::bigint"));
  auto live = store_->LoadManagerLiveness({a});
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->at(a).start_time, 77);
  const absl::Duration expected = absl::Seconds(std::min<int64_t>(90, uptime_s));
  EXPECT_GE(live->at(a).silence, expected - absl::Seconds(2));
  EXPECT_LE(live->at(a).silence, expected + absl::Seconds(5));
}

TEST_F(OpenAttemptChangesTest, AWriterThatCommitsLateIsNotMissed) {
  Submit("a");
  OpenAttemptCache cache;
  ASSERT_TRUE(cache.Refresh(*store_).ok());
  // T1 takes its xid first but commits last; a refresh runs while it is open and T2 (a later
  // xid) has committed.
  auto t1_conn = db_->Connect();
  pqxx::work t1(*t1_conn);
  t1.exec("UPDATE chains SET hold = true WHERE name = 'a'");
  const int64_t b = Submit("b");  // T2
  ASSERT_TRUE(cache.Refresh(*store_).ok());
  EXPECT_EQ(cache.attempts().count(b), 1u);
  EXPECT_FALSE(cache.attempts().begin()->second.chain.hold);  // T1 not visible yet
  t1.commit();
  ASSERT_TRUE(cache.Refresh(*store_).ok());
  EXPECT_TRUE(cache.attempts().begin()->second.chain.hold);
  EXPECT_EQ(Digest(cache.attempts()), FreshDigest());
}

TEST_F(OpenAttemptChangesTest, DeletedAttemptsLeaveOnRecheck) {
  const int64_t a = Submit("a");
  const int64_t b = Submit("b");
  OpenAttemptCache cache;
  ASSERT_TRUE(cache.Refresh(*store_).ok());
  db_->Exec("DELETE FROM chains WHERE name = 'a'");  // cascades to the attempt
  ASSERT_TRUE(cache.Refresh(*store_).ok());
  EXPECT_EQ(cache.attempts().count(a), 1u);  // no row is left to say it changed ...
  cache.Recheck(a);                          // ... so haid rechecks it (NOTIFY, stale decision)
  ASSERT_TRUE(cache.Refresh(*store_).ok());
  EXPECT_EQ(cache.attempts().count(a), 0u);
  EXPECT_EQ(cache.attempts().count(b), 1u);
  EXPECT_EQ(Digest(cache.attempts()), FreshDigest());
}

TEST_F(OpenAttemptChangesTest, ManyInterleavedChangesMatchAFreshLoad) {
  OpenAttemptCache cache;
  std::vector<int64_t> ids;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 10; ++i)
      ids.push_back(Submit("r" + std::to_string(round) + "-" + std::to_string(i)));
    // Deterministic mix: schedule some, end some, hold some chains.
    for (size_t i = 0; i < ids.size(); i += 3) {
      (void)store_->ScheduleAttempt(ids[i], 10, {{"node-" + std::to_string(i), {}}});
    }
    db_->Exec(
        "UPDATE attempts SET state = 'succeeded', ended_at = now() "
        "WHERE state = 'scheduled' AND attempt_id % 2 = 0");
    db_->Exec("UPDATE chains SET hold = NOT hold WHERE chain_id % 4 = " +
              std::to_string(round % 4));
    ASSERT_TRUE(cache.Refresh(*store_).ok());
    EXPECT_EQ(Digest(cache.attempts()), FreshDigest()) << "round " << round;
    // The supervisor's index of node-holding attempts follows the merges.
    std::set<int64_t> holding;
    for (const auto& [id, o] : cache.attempts()) {
      if (model::HoldsNodes(o.attempt.state)) holding.insert(id);
      EXPECT_EQ(cache.Find(id), &o);
    }
    EXPECT_EQ(cache.holding(), holding) << "round " << round;
  }
  EXPECT_FALSE(cache.last_full());
}

TEST_F(OpenAttemptChangesTest, ApplyMergesAndAFullReadReplaces) {
  OpenAttemptCache cache;
  store::OpenAttemptChanges first;
  first.full = true;
  first.next_since = 7;
  first.open[1].attempt.attempt_id = 1;
  first.open[2].attempt.attempt_id = 2;
  cache.Apply(first);
  store::OpenAttemptChanges delta;
  delta.open[3].attempt.attempt_id = 3;
  delta.closed = {1};
  delta.next_since = 8;
  cache.Apply(delta);
  std::vector<int64_t> ids;
  for (const auto& [id, o] : cache.attempts()) ids.push_back(id);
  EXPECT_THAT(ids, UnorderedElementsAre(2, 3));
  EXPECT_EQ(cache.Find(1), nullptr);
  ASSERT_NE(cache.Find(3), nullptr);
  EXPECT_EQ(cache.Find(3)->attempt.attempt_id, 3);
  store::OpenAttemptChanges full;
  full.full = true;
  full.open[9].attempt.attempt_id = 9;
  full.next_since = 9;
  cache.Apply(full);
  ASSERT_EQ(cache.attempts().size(), 1u);
  EXPECT_EQ(cache.attempts().begin()->first, 9);
}

}  // namespace
}  // namespace hai
