// ManagerSupervisor: what haid does for each verdict on an attempt's manager (alive, hung,
// gone, not yet registered, on another host), the heartbeat re-read that saves a manager
// memory thought lost, and failing the attempt after repeated losses.
#include "scheduler/loop/manager_supervisor.h"

#include <gtest/gtest.h>

#include "test/unit/loop/builders.h"
#include "test/unit/loop/fakes.h"

namespace hai {
namespace {

using testing::FakeLoopStore;
using testing::FakeProcesses;
using testing::kT0;
using testing::Running;

constexpr absl::Duration kTimeout = absl::Seconds(30);

class ManagerSupervisorTest : public ::testing::Test {
 protected:
  // One pass of supervision at `now` over what the store holds.
  void Supervise(absl::Time now) {
    ASSERT_TRUE(cache_.Refresh(store_).ok());
    supervisor_.Supervise(cache_, now);
  }
  // A manager of an earlier haid, alive on this host with pid `pid`.
  void ForeignManager(pid_t pid) { processes_.alive.insert(pid); }

  FakeLoopStore store_;
  FakeProcesses processes_;
  Metrics metrics_;
  OpenAttemptCache cache_;
  ManagerSupervisor supervisor_{store_, processes_, metrics_,
                                SupervisionOptions{kTimeout, absl::Seconds(30), 3, "here"}};
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
  store_.liveness[1] = {4000, "", now - absl::Seconds(1)};
  Supervise(now);
  EXPECT_TRUE(processes_.killed.empty());
  EXPECT_TRUE(processes_.launched.empty());
  EXPECT_EQ(cache_.Find(1)->attempt.manager_heartbeat_at, now - absl::Seconds(1));
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

TEST_F(ManagerSupervisorTest, AfterThreeLossesTheAttemptFailsInsteadOfAFourthRelaunch) {
  store_.Put(Running(1, {"n0"}, 10, 4000, kT0));
  for (int i = 0; i < 3; ++i) {
    Supervise(kT0 + absl::Seconds(1 + i));
    processes_.ChildDies(1);
  }
  EXPECT_EQ(processes_.launched.size(), 3u);
  EXPECT_TRUE(store_.failed.empty());
  Supervise(kT0 + absl::Seconds(10));
  EXPECT_EQ(processes_.launched.size(), 3u);
  ASSERT_EQ(store_.failed.size(), 1u);
  EXPECT_EQ(store_.failed[0], std::make_pair(int64_t{1}, std::string("its manager died 3 times")));
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
