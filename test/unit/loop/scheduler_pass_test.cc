// The Scheduler wiring its units together, one pass at a time on in-memory fakes (RunPass on
// the test's thread; the loop thread is never started): a start reaches the store and a
// manager is launched, a preemption is requested and the preemptor starts once the victim is
// gone, a stale decision is read again next pass, Postgres down decides nothing, admin
// tables are reloaded on their notification, a deleted attempt is re-read, and a stopping
// chain's requeued attempt is stopped.
#include "scheduler/loop/scheduler.h"

#include <gtest/gtest.h>

#include "test/unit/loop/builders.h"
#include "test/unit/loop/fakes.h"

namespace hai {
namespace {

using testing::FakeLoopStore;
using testing::FakeNotifier;
using testing::FakeProcesses;
using testing::Host;
using testing::Queued;
using testing::Running;

// A pass decides at the wall clock's now: an attempt running since "30 minutes ago".
store::OpenAttempt RunningNow(int64_t attempt_id, const std::vector<std::string>& nodes, int tier,
                              std::optional<int> manager_pid = 4000) {
  store::OpenAttempt o = Running(attempt_id, nodes, tier, manager_pid, absl::Now());
  o.attempt.scheduled_at = o.attempt.started_at = absl::Now() - absl::Minutes(30);
  return o;
}

class SchedulerPassTest : public ::testing::Test {
 protected:
  SchedulerPassTest() {
    store_.hosts = {Host("n0"), Host("n1")};
    for (const char* tier : {"LOW", "NORMAL", "HIGH"}) {
      store_.quota_rows.push_back({"public", "", absl::StrCat("node-g-", tier), 8, {}, true});
    }
    store_.user_groups = {{"alice", {}}};  // quota resolves for the users it knows
    config_.scheduler.preemption = true;
  }
  Scheduler& scheduler() {
    if (scheduler_ == nullptr) {
      scheduler_ = std::make_unique<Scheduler>(store_, config_, processes_, notifier_, metrics_);
    }
    return *scheduler_;
  }

  FakeLoopStore store_;
  FakeNotifier notifier_;
  FakeProcesses processes_;
  Metrics metrics_;
  Config config_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerPassTest, AQueuedTaskIsScheduledAndItsManagerLaunched) {
  store_.Put(Queued(1));
  scheduler().RunPass();
  EXPECT_EQ(store_.scheduled, std::vector<int64_t>{1});
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
  EXPECT_EQ(metrics_.scheduler_passes, 1);
  EXPECT_NE(scheduler().views().LastPassAt(), absl::InfinitePast());
  ASSERT_NE(scheduler().views().Nodes(), nullptr);
  EXPECT_EQ(scheduler().views().Nodes()->size(), 2u);
  // The next pass reads its own write back as 'scheduled' and leaves it to its manager.
  scheduler().RunPass();
  EXPECT_EQ(store_.scheduled.size(), 1u);
  EXPECT_EQ(processes_.launched.size(), 1u);
}

TEST_F(SchedulerPassTest, WhatDoesNotFitWaitsWithItsReasonPublished) {
  store_.Put(Queued(1, 10, /*nodes=*/3));
  scheduler().RunPass();
  EXPECT_TRUE(store_.scheduled.empty());
  std::optional<PendingView> p = scheduler().views().PendingFor(101);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->reason, "NEVER_FITS");
}

TEST_F(SchedulerPassTest, APreemptionIsRequestedAndThePreemptorStartsWhenTheVictimIsGone) {
  store_.hosts = {Host("n0")};
  store_.Put(RunningNow(1, {"n0"}, static_cast<int>(policy::Tier::kLow)));
  processes_.alive.insert(4000);  // its manager is alive
  store_.Put(Queued(2, static_cast<int>(policy::Tier::kHigh)));
  scheduler().RunPass();
  ASSERT_EQ(store_.suspends.size(), 1u);
  EXPECT_EQ(store_.suspends[0].attempt_id, 1);
  EXPECT_EQ(store_.suspends[0].preemptor_chain, 102);
  EXPECT_EQ(notifier_.told, (std::vector<std::pair<int64_t, std::string>>{{1, "suspend"}}));
  EXPECT_TRUE(store_.scheduled.empty());
  std::optional<PendingView> p = scheduler().views().PendingFor(102);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->reason, "WAITING_FOR_PREEMPTION");

  store_.Close(1);  // the victim checkpointed and its manager ended the attempt
  scheduler().RunPass();
  EXPECT_EQ(store_.scheduled, std::vector<int64_t>{2});
  EXPECT_EQ(store_.open.at(2).attempt.pods[0].node, "n0");
}

TEST_F(SchedulerPassTest, AStaleStartIsReadAgainOnTheNextPass) {
  store_.Put(Queued(1));
  store_.stale.insert(1);
  scheduler().RunPass();
  EXPECT_TRUE(store_.scheduled.empty());
  EXPECT_TRUE(processes_.launched.empty());
  EXPECT_EQ(metrics_.stale_decisions, 1);
  store_.stale.clear();
  scheduler().RunPass();
  EXPECT_EQ(store_.last_recheck, std::vector<int64_t>{1});
  EXPECT_EQ(store_.scheduled, std::vector<int64_t>{1});
}

TEST_F(SchedulerPassTest, PostgresDownDecidesNothing) {
  store_.Put(Queued(1));
  store_.unreachable = true;
  scheduler().RunPass();
  EXPECT_EQ(metrics_.scheduler_pass_errors, 1);
  EXPECT_EQ(metrics_.scheduler_passes, 0);
  EXPECT_EQ(scheduler().views().LastPassAt(), absl::InfinitePast());
  store_.unreachable = false;
  scheduler().RunPass();
  EXPECT_EQ(store_.scheduled, std::vector<int64_t>{1});
}

TEST_F(SchedulerPassTest, AdminTablesAreReloadedOnTheirNotification) {
  scheduler().RunPass();
  scheduler().RunPass();
  EXPECT_EQ(store_.host_loads, 1) << "not reloaded without a change";
  store_.hosts.push_back(Host("n2"));
  scheduler().NoteChange("hai_admin", "hosts");
  scheduler().RunPass();
  EXPECT_EQ(store_.host_loads, 2);
  EXPECT_EQ(scheduler().views().Nodes()->size(), 3u);
}

TEST_F(SchedulerPassTest, AReportedDeleteIsReadAgain) {
  store_.Put(Queued(5, 10, 3));  // waits: never fits
  scheduler().RunPass();
  store_.open.erase(5);  // deleted without a change record (e.g. by an admin's SQL)
  scheduler().NoteChange("hai_attempts", "5:deleted");
  scheduler().RunPass();
  EXPECT_EQ(store_.last_recheck, std::vector<int64_t>{5});
  EXPECT_FALSE(scheduler().views().PendingFor(105).has_value());
}

TEST_F(SchedulerPassTest, AStoppingChainsQueuedAttemptIsStopped) {
  store::OpenAttempt o = Queued(1);
  o.chain.stop_requested = true;
  store_.Put(o);
  scheduler().RunPass();
  EXPECT_EQ(store_.stops, std::vector<int64_t>{101});
  EXPECT_TRUE(store_.scheduled.empty());
}

TEST_F(SchedulerPassTest, AnAttemptWithoutAManagerGetsOne) {
  store_.Put(RunningNow(1, {"n0"}, 10));  // pid 4000 is gone
  scheduler().RunPass();
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
}

TEST_F(SchedulerPassTest, AnUnhealthyNodesTasksAreSuspended) {
  store_.Put(RunningNow(1, {"n0"}, 10));
  processes_.alive.insert(4000);
  store_.unhealthy_next = {{"n0", {1}}};
  scheduler().RunPass();
  ASSERT_EQ(store_.suspends.size(), 1u);
  EXPECT_EQ(store_.suspends[0].reason, "node n0 is unhealthy");
}

}  // namespace
}  // namespace hai
