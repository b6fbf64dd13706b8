// ManagerSupervisor: what haid does for each verdict on an attempt's manager (alive, hung,
// gone, reused pid, unidentifiable, unkillable, not yet registered, on another host), the
// heartbeat re-read that saves a manager memory thought lost, silence measured by Postgres'
// clock only (skew and outages), and failing the attempt after repeated losses only after
// its ranks are ended (or their nodes cordoned).
#include "scheduler/loop/manager_supervisor.h"

#include <gtest/gtest.h>

#include "test/unit/loop/builders.h"
#include "test/unit/loop/fakes.h"

namespace hai {
namespace {

using testing::FakeLoopStore;
using testing::FakeProcesses;
using testing::FakeRankReaper;
using testing::kT0;
using testing::Running;

constexpr absl::Duration kTimeout = absl::Seconds(30);

class ManagerSupervisorTest : public ::testing::Test {
 protected:
  // One pass of supervision at Postgres time `now` over what the store holds; haid's clock
  // reads `now + haid_skew_`. Unless `cold_`, haid has had Postgres for a timeout already.
  void Supervise(absl::Time now) {
    if (!cold_ && !warmed_) {
      OpenAttemptCache empty;
      supervisor_.Supervise(empty, now + haid_skew_ - kTimeout - absl::Seconds(1));
      warmed_ = true;
    }
    store_.now = now;
    ASSERT_TRUE(cache_.Refresh(store_).ok());
    supervisor_.Supervise(cache_, now + haid_skew_);
  }
  // A pass that finds Postgres unreachable.
  void Outage(absl::Time now) {
    store_.now = now;
    store_.unreachable = true;
    EXPECT_FALSE(cache_.Refresh(store_).ok());
    supervisor_.NoteStoreUnavailable();  // what the Scheduler does when a pass is skipped
    store_.unreachable = false;
  }
  // A manager of an earlier haid, alive on this host with pid `pid`.
  void ForeignManager(pid_t pid) { processes_.alive.insert(pid); }
  void Beat(int64_t attempt_id, absl::Time at) {
    store::OpenAttempt o = store_.open.at(attempt_id);
    o.attempt.manager_heartbeat_at = at;
    store_.open[attempt_id] = o;  // not change-tracked, like a real heartbeat
  }

  FakeLoopStore store_;
  FakeProcesses processes_;
  FakeRankReaper reaper_;
  Metrics metrics_;
  OpenAttemptCache cache_;
  ManagerSupervisor supervisor_{store_, processes_, reaper_, metrics_,
                                SupervisionOptions{kTimeout, absl::Seconds(30), 3, "here"}};
  absl::Duration haid_skew_ = absl::ZeroDuration();
  bool cold_ = false;
  bool warmed_ = false;
};

TEST_F(ManagerSupervisorTest, OurLiveChildIsLeftAloneWhateverItsHeartbeat) {
  store_.Put(Running(1, {"n0"}, 10, std::nullopt));
  ASSERT_TRUE(processes_.Launch(1).ok());
  processes_.launched.clear();
  Supervise(kT0 + absl::Hours(1));
  EXPECT_TRUE(processes_.launched.empty());
  EXPECT_TRUE(processes_.killed.empty());
}

TEST_F(ManagerSupervisorTest, AnAliveManagerOfAnEarlierHaidIsLeftAlone) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  Supervise(kT0 + absl::Seconds(5));
  EXPECT_TRUE(processes_.launched.empty());
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_EQ(metrics_.managers_lost, 0);
}

TEST_F(ManagerSupervisorTest, AHungManagerIsKilledAndReplaced) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  Supervise(kT0 + kTimeout + absl::Seconds(1));
  EXPECT_EQ(processes_.killed, std::vector<pid_t>{4000});
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
  EXPECT_EQ(metrics_.managers_lost, 1);
  EXPECT_EQ(supervisor_.RestartsOf(1), 1);
}

TEST_F(ManagerSupervisorTest, AGoneManagerIsReplacedWithoutKillingAnything) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));  // pid 4000 does not exist
  Supervise(kT0 + absl::Seconds(5));
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
  EXPECT_EQ(metrics_.managers_lost, 1);
}

TEST_F(ManagerSupervisorTest, APidReusedByAnotherProcessIsNeverKilledButTheAttemptGetsAManager) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  processes_.other.insert(4000);  // e.g. a `sleep` that got the number
  Supervise(kT0 + kTimeout + absl::Seconds(1));
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
}

TEST_F(ManagerSupervisorTest, AManagerThatCannotBeIdentifiedCountsAsAlive) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  processes_.unreadable.insert(4000);
  Supervise(kT0 + absl::Hours(1));
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_TRUE(processes_.launched.empty());
}

TEST_F(ManagerSupervisorTest, AManagerThatCannotBeKilledIsNotReplacedBesideIt) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  processes_.unkillable.insert(4000);
  Supervise(kT0 + kTimeout + absl::Seconds(1));
  EXPECT_TRUE(processes_.launched.empty());
  processes_.unkillable.clear();
  Supervise(kT0 + kTimeout + absl::Seconds(2));  // tried again next pass
  EXPECT_EQ(processes_.killed, std::vector<pid_t>{4000});
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
}

TEST_F(ManagerSupervisorTest, OnAnotherHostOnlyTheHeartbeatCountsAndNothingIsKilled) {
  store::OpenAttempt o = Running(1, {"n0"}, 10, 4000, kT0);
  o.attempt.manager_host = "elsewhere";
  store_.Put(o);
  ForeignManager(4000);  // some unrelated process here has that pid
  Supervise(kT0 + absl::Seconds(5));
  EXPECT_TRUE(processes_.launched.empty());
  Supervise(kT0 + kTimeout + absl::Seconds(1));
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
}

TEST_F(ManagerSupervisorTest, AHeartbeatPostgresHasSavesAManagerMemoryThoughtSilent) {
  // Heartbeats are not change-tracked: haid's copy is old, Postgres has a fresh one.
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  const absl::Time now = kT0 + kTimeout + absl::Seconds(1);
  store_.liveness[1] = {.pid = 4000, .heartbeat_at = now - absl::Seconds(1)};
  Supervise(now);
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_TRUE(processes_.launched.empty());
  EXPECT_EQ(cache_.Find(1)->attempt.manager_heartbeat_at, now - absl::Seconds(1));
}

TEST_F(ManagerSupervisorTest, HeartbeatsAreReReadOnlyWhenTheyMayHaveGoneStale) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  Supervise(kT0 + absl::Seconds(10));  // read: silent 10 s; next look in 20 s
  store_.liveness[1] = {.pid = 4000, .heartbeat_at = kT0 - absl::Hours(1)};  // would be hung
  Supervise(kT0 + absl::Seconds(29));
  EXPECT_TRUE(processes_.killed.empty()) << "not re-read before it could be stale";
  Supervise(kT0 + absl::Seconds(30));
  EXPECT_EQ(processes_.killed, std::vector<pid_t>{4000});
}

// Silence is Postgres' now() minus Postgres' heartbeat: haid's clock being an hour off
// either way neither kills a live manager nor spares a dead one.
TEST_F(ManagerSupervisorTest, ClockSkewBetweenHaidAndPostgresChangesNothing) {
  for (absl::Duration skew : {absl::Hours(1), -absl::Hours(1)}) {
    SCOPED_TRACE(absl::FormatDuration(skew));
    FakeLoopStore store;
    FakeProcesses processes;
    FakeRankReaper reaper;
    Metrics metrics;
    OpenAttemptCache cache;
    ManagerSupervisor supervisor{store, processes, reaper, metrics,
                                 SupervisionOptions{kTimeout, absl::Seconds(30), 3, "here"}};
    OpenAttemptCache empty;
    supervisor.Supervise(empty, kT0 + skew - absl::Hours(1));  // haid has had Postgres long
    store.Put(Running(1, {"n0"}, 10, 4000, kT0));
    store.Put(Running(2, {"n1"}, 10, 4001, kT0 - absl::Minutes(5)));
    processes.alive = {4000, 4001};
    store.now = kT0 + absl::Seconds(2);
    ASSERT_TRUE(cache.Refresh(store).ok());
    supervisor.Supervise(cache, store.now + skew);
    EXPECT_EQ(processes.killed, std::vector<pid_t>{4001});  // 5 min silent by Postgres
    EXPECT_EQ(processes.launched, std::vector<int64_t>{2});
  }
}

TEST_F(ManagerSupervisorTest, APostgresRestartKillsNoManager) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  Supervise(kT0 + absl::Seconds(1));
  for (int s = 5; s < 60; s += 5) Outage(kT0 + absl::Seconds(s));  // managers cannot beat
  store_.started_at = kT0 + absl::Seconds(60);                     // Postgres is back
  Supervise(kT0 + absl::Seconds(61));
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_TRUE(processes_.launched.empty());
  for (int s = 62; s < 120; ++s) {  // the manager reconnects and beats every 2 s
    if (s % 2 == 0) Beat(1, kT0 + absl::Seconds(s));
    Supervise(kT0 + absl::Seconds(s));
  }
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_TRUE(processes_.launched.empty());
}

TEST_F(ManagerSupervisorTest, AnOutageHaidSawKillsNoManagerUntilATimeoutOfPostgresAfterIt) {
  // Postgres stayed up (a network cut between it and this host): its clock says the manager
  // is silent, but haid could not read either, so that silence proves nothing yet.
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  Supervise(kT0 + absl::Seconds(1));
  for (int s = 5; s < 60; s += 5) Outage(kT0 + absl::Seconds(s));
  Supervise(kT0 + absl::Seconds(61));
  Supervise(kT0 + absl::Seconds(90));
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_TRUE(processes_.launched.empty());
  // Still silent a whole timeout after haid has Postgres again: hung.
  Supervise(kT0 + absl::Seconds(91));
  EXPECT_EQ(processes_.killed, std::vector<pid_t>{4000});
}

TEST_F(ManagerSupervisorTest, AtHaidStartSilenceCountsOnlyAfterATimeout) {
  cold_ = true;
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  ForeignManager(4000);
  Supervise(kT0 + absl::Hours(1));
  EXPECT_TRUE(processes_.killed.empty());
  Supervise(kT0 + absl::Hours(1) + kTimeout);
  EXPECT_EQ(processes_.killed, std::vector<pid_t>{4000});
}

TEST_F(ManagerSupervisorTest, ARelaunchedManagerGetsTimeToRegister) {
  store::OpenAttempt o = Running(1, {"n0"}, 10, std::nullopt);
  o.attempt.scheduled_at = kT0;
  store_.Put(o);
  Supervise(kT0 + absl::Seconds(1));  // nobody: launch one
  ASSERT_EQ(processes_.launched.size(), 1u);
  processes_.ChildDies(1);  // as if it were a manager of an earlier haid that never wrote
  Supervise(kT0 + absl::Seconds(10));
  EXPECT_EQ(processes_.launched.size(), 1u) << "not registered yet, but within the timeout";
  Supervise(kT0 + absl::Seconds(31));
  EXPECT_EQ(processes_.launched.size(), 2u);
}

TEST_F(ManagerSupervisorTest, AfterThreeLossesTheRanksAreEndedThenTheAttemptFails) {
  store::OpenAttempt o = Running(1, {"n0", "n1"}, 10, 4000, kT0);
  o.attempt.pods[0].pid = 7000;
  store_.Put(o);
  for (int i = 0; i < 3; ++i) {
    Supervise(kT0 + absl::Seconds(1 + i));
    processes_.ChildDies(1);
  }
  EXPECT_EQ(processes_.launched.size(), 3u);
  EXPECT_TRUE(store_.failed.empty());
  EXPECT_TRUE(reaper_.calls.empty());
  Supervise(kT0 + absl::Seconds(10));
  EXPECT_EQ(processes_.launched.size(), 3u);
  ASSERT_EQ(reaper_.calls.size(), 1u);
  ASSERT_EQ(reaper_.calls[0].ranks.size(), 2u);
  EXPECT_EQ(reaper_.calls[0].ranks[0].runtime_id, 7000);
  EXPECT_EQ(reaper_.calls[0].ranks[1].node, "n1");
  ASSERT_EQ(store_.failed.size(), 1u);
  EXPECT_EQ(store_.failed[0], std::make_pair(int64_t{1}, std::string("its manager died 3 times")));
  EXPECT_TRUE(store_.cordoned.empty());
  EXPECT_FALSE(supervisor_.TakeHostsChanged());
}

TEST_F(ManagerSupervisorTest, NodesWhereRanksCannotBeConfirmedGoneAreCordoned) {
  store_.Put(Running(1, {"n0", "n1"}, 10, 4000, kT0));
  reaper_.stuck_nodes = {"n1"};
  for (int i = 0; i < 4; ++i) {
    Supervise(kT0 + absl::Seconds(1 + i));
    processes_.ChildDies(1);
  }
  ASSERT_EQ(store_.failed.size(), 1u);
  EXPECT_EQ(store_.cordoned, (std::map<std::string, std::string>{{"n1", "stuck"}}));
  EXPECT_TRUE(supervisor_.TakeHostsChanged());
  EXPECT_FALSE(supervisor_.TakeHostsChanged());
}

TEST_F(ManagerSupervisorTest, RestartCountsOfEndedAttemptsAreForgotten) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  Supervise(kT0 + absl::Seconds(1));
  EXPECT_EQ(supervisor_.RestartsOf(1), 1);
  store_.Close(1);
  Supervise(kT0 + absl::Seconds(2));
  EXPECT_EQ(supervisor_.RestartsOf(1), 0);
}

TEST_F(ManagerSupervisorTest, QueuedAttemptsAreNotSupervised) {
  store_.Put(testing::Queued(1));
  Supervise(kT0);
  EXPECT_TRUE(processes_.launched.empty());
}

TEST_F(ManagerSupervisorTest, AFailedLaunchIsRetriedOnTheNextPass) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  processes_.launch_fails = true;
  Supervise(kT0 + absl::Seconds(1));
  EXPECT_EQ(metrics_.managers_launched, 0);
  processes_.launch_fails = false;
  Supervise(kT0 + absl::Seconds(2));
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
  EXPECT_EQ(metrics_.managers_launched, 1);
}

}  // namespace
}  // namespace hai
