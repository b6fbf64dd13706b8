// Every end of an attempt as AttemptLifecycle drives it (lifecycle.h), against in-memory
// fakes on a fake clock: exit codes, a lost rank, stop, suspend (go_suspend and grace expiry),
// the stop-vs-suspend race, ranks that finished first, the kill grace, and the ways a manager
// leaves without ending the attempt. Each test scripts the world at points of fake time and
// comments what the lifecycle must do at each.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test/unit/manager/lifecycle_fixture.h"

namespace hai::manager::testing {
namespace {

using model::AttemptState;
using model::PodState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST_F(LifecycleTest, AllRanksExitZeroSucceeds) {
  clock_.At(absl::Seconds(5), [&] { runtime_.Exit(0, 0); });
  clock_.At(absl::Seconds(7), [&] { runtime_.Exit(1, 0); });
  EXPECT_EQ(Run(), 0);
  // Claimed 'scheduled' -> 'starting', both ranks started -> 'running', then succeeded at the
  // first heartbeat that saw both exits (8 s).
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  EXPECT_EQ(store_.finish->exit_code, 0);
  EXPECT_EQ(store_.finish->end_reason, "all ranks exited with code 0");
  EXPECT_EQ(clock_.Elapsed(), absl::Seconds(8));
  EXPECT_EQ(PodState(0), PodState::kSucceeded);
  EXPECT_EQ(PodState(1), PodState::kSucceeded);
  EXPECT_EQ(PodExitCode(1), 0);
  EXPECT_EQ(runtime_.starts, 2);
  EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
  EXPECT_THAT(runtime_.SignalsOf(1), IsEmpty());
  EXPECT_EQ(runtime_.releases, 1);
  EXPECT_THAT(store_.events, ElementsAre("starting", "pod_started", "pod_started", "started",
                                         "pod_ended", "pod_ended", "succeeded"));
}

TEST_F(LifecycleTest, SucceededRankWithStragglersIsTerminatedBeforeSuccess) {
  // Rank 0's command exits 0 but a child keeps holding the node; rank 1 is clean.
  clock_.At(absl::Seconds(5), [&] {
    runtime_.ExitLeavingStraggler(0, 0);
    runtime_.Exit(1, 0);
  });
  EXPECT_EQ(Run(), 0);
  // The straggler got SIGTERM; the attempt still succeeded, its pods 'succeeded'.
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  EXPECT_EQ(PodState(0), PodState::kSucceeded);
}

TEST_F(LifecycleTest, NonZeroExitTerminatesTheOthersAndFails) {
  Seed(3, AttemptState::kScheduled);
  clock_.At(absl::Seconds(5), [&] { runtime_.Exit(1, 3); });
  EXPECT_EQ(Run(), 0);
  // At 6 s rank 1's exit is seen: ranks 0 and 2 get SIGTERM, exit 143, and the attempt fails
  // with rank 1's code once they are gone.
  EXPECT_EQ(State(), AttemptState::kFailed);
  EXPECT_EQ(store_.finish->exit_code, 3);
  EXPECT_EQ(store_.finish->end_reason, "rank 1 exited with code 3");
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
  EXPECT_THAT(runtime_.SignalsOf(1), IsEmpty());
  EXPECT_THAT(runtime_.SignalsOf(2), ElementsAre(PodSignal::kTerminate));
  EXPECT_EQ(PodState(1), PodState::kFailed);
  EXPECT_EQ(PodExitCode(1), 3);
  // The terminated ranks are 'stopped', not failed: they did not fail, they were stopped.
  EXPECT_EQ(PodState(0), PodState::kStopped);
  EXPECT_EQ(PodState(2), PodState::kStopped);
  EXPECT_FALSE(store_.requeued);
  EXPECT_LT(clock_.Elapsed(), absl::Seconds(7));
}

TEST_F(LifecycleTest, RuntimeReasonIsPartOfTheEndReason) {
  clock_.At(absl::Seconds(5), [&] {
    runtime_.Exit(0, 1);
    runtime_.ranks[0].status.reason = "image could not be pulled";
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(store_.finish->end_reason, "rank 0 exited with code 1 (image could not be pulled)");
}

TEST_F(LifecycleTest, LostRankSuspendsAndRequeues) {
  clock_.At(absl::Seconds(5), [&] { runtime_.Lose(1, "node gone"); });
  EXPECT_EQ(Run(), 0);
  // A rank that vanished without an exit status is the node's failure: the attempt is
  // suspended and its chain requeued; the rank's row says 'lost' (haid counts it per node).
  EXPECT_EQ(State(), AttemptState::kSuspended);
  EXPECT_EQ(store_.finish->end_reason, "rank 1 was lost on node n1 (node gone); requeued");
  EXPECT_FALSE(store_.finish->exit_code.has_value());
  EXPECT_TRUE(store_.requeued);
  EXPECT_EQ(PodState(1), PodState::kLost);
  EXPECT_FALSE(PodExitCode(1).has_value());
  EXPECT_EQ(PodState(0), PodState::kStopped);
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
}

// A rank that killed itself (its own `kill -9 0`, its own OOM) is the task's doing: the chain
// is requeued while its count of such ends is under scheduler.max_self_requeues, the pods
// row says 'failed' (never 'lost': node health does not count it), and the count grows.
TEST_F(LifecycleTest, SelfInflictedEndRequeuesUnderTheCapAndIsNotALoss) {
  options_.max_self_requeues = 2;
  store_.attempt.self_requeues = 1;
  clock_.At(absl::Seconds(5), [&] { runtime_.KillItself(1); });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kSuspended);
  EXPECT_TRUE(store_.requeued);
  EXPECT_TRUE(store_.finish->self_inflicted);
  EXPECT_EQ(store_.attempt.self_requeues, 2);
  EXPECT_EQ(store_.finish->end_reason,
            "rank 1 exited with code 137 (the task was killed by SIGKILL that hai did not send); "
            "requeued (self-inflicted end 2 of at most 2 in this chain)");
  EXPECT_EQ(PodState(1), PodState::kFailed);
  EXPECT_EQ(PodExitCode(1), 137);
  EXPECT_EQ(PodState(0), PodState::kStopped);
}

// At the cap the next self-inflicted end fails the chain with the reason.
TEST_F(LifecycleTest, SelfInflictedEndAtTheCapFailsTheChain) {
  options_.max_self_requeues = 2;
  store_.attempt.self_requeues = 2;
  clock_.At(absl::Seconds(5), [&] { runtime_.KillItself(0); });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kFailed);
  EXPECT_FALSE(store_.requeued);
  EXPECT_EQ(store_.finish->exit_code, 137);
  EXPECT_EQ(store_.finish->end_reason,
            "rank 0 exited with code 137 (the task was killed by SIGKILL that hai did not send); "
            "failed: the chain's self-inflicted ends reached scheduler.max_self_requeues = 2");
  EXPECT_EQ(PodState(0), PodState::kFailed);
}

// 0 = never requeued: the first self-inflicted end fails.
TEST_F(LifecycleTest, SelfInflictedEndWithCapZeroFailsAtOnce) {
  options_.max_self_requeues = 0;
  clock_.At(absl::Seconds(5), [&] { runtime_.KillItself(0); });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kFailed);
  EXPECT_EQ(store_.attempt.self_requeues, 0);
}

TEST_F(LifecycleTest, LostRankOfAHeldChainIsNotRequeued) {
  store_.chain_hold = true;
  clock_.At(absl::Seconds(5), [&] { runtime_.Lose(0, ""); });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kSuspended);
  EXPECT_FALSE(store_.requeued);
}

TEST_F(LifecycleTest, StopRequestedStops) {
  clock_.At(absl::Seconds(5), [&] {
    store_.stop_requested = true;
    store_.stop_actor = "bob";
  });
  EXPECT_EQ(Run(), 0);
  // Seen at 6 s: SIGTERM to both ranks, they exit 143, the attempt is 'stopped by bob'.
  EXPECT_EQ(State(), AttemptState::kStopped);
  EXPECT_EQ(store_.finish->end_reason, "stopped by bob");
  EXPECT_FALSE(store_.requeued);
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
  EXPECT_THAT(runtime_.SignalsOf(1), ElementsAre(PodSignal::kTerminate));
  EXPECT_EQ(PodState(0), PodState::kStopped);
  EXPECT_EQ(PodExitCode(0), 143);
}

TEST_F(LifecycleTest, StopWithoutAKnownActorIsByUser) {
  clock_.At(absl::Seconds(5), [&] { store_.stop_requested = true; });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(store_.finish->end_reason, "stopped by user");
}

TEST_F(LifecycleTest, SuspendWaitsForGoSuspend) {
  clock_.At(absl::Seconds(5), [&] { store_.RequestSuspend("preempted by chain 9"); });
  clock_.At(absl::Seconds(9), [&] {
    // Until the task says it checkpointed, its ranks are left alone.
    EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
    store_.go_suspend = true;
  });
  EXPECT_EQ(Run(), 0);
  // Seen at 10 s: terminate, then 'suspended' and a new queued attempt for the chain.
  EXPECT_EQ(State(), AttemptState::kSuspended);
  EXPECT_EQ(store_.finish->end_reason, "suspended: preempted by chain 9 (task called go_suspend)");
  EXPECT_TRUE(store_.requeued);
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
  EXPECT_EQ(PodState(0), PodState::kStopped);
  EXPECT_LT(clock_.Elapsed(), absl::Seconds(11));
}

TEST_F(LifecycleTest, SuspendWithoutGoSuspendEndsAfterTheGrace) {
  clock_.At(absl::Seconds(5), [&] { store_.RequestSuspend(""); });
  clock_.At(absl::Seconds(35), [&] {
    // 30 s after the request the grace is not yet over at the 34 s heartbeat (29 s).
    EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
  });
  EXPECT_EQ(Run(), 0);
  // The 36 s heartbeat reads 31 s since the request: terminate and suspend.
  EXPECT_EQ(State(), AttemptState::kSuspended);
  EXPECT_EQ(store_.finish->end_reason, "suspended: suspend requested (suspend grace elapsed)");
  EXPECT_TRUE(store_.requeued);
  EXPECT_GE(clock_.Elapsed(), absl::Seconds(36));
  EXPECT_LT(clock_.Elapsed(), absl::Seconds(37));
}

TEST_F(LifecycleTest, StopDuringASuspensionWins) {
  // Rank 0 ignores SIGTERM, so the suspension's terminate lasts the kill grace; a stop arrives
  // meanwhile.
  runtime_.ranks[0].ignores_sigterm = true;
  clock_.At(absl::Seconds(5), [&] {
    store_.RequestSuspend("over quota");
    store_.go_suspend = true;
  });
  clock_.At(absl::Seconds(9), [&] {
    store_.stop_requested = true;
    store_.stop_actor = "carol";
  });
  EXPECT_EQ(Run(), 0);
  // Terminate began at 6 s as a suspension; when the last rank is gone (SIGKILL at 16 s) the
  // stop is known, so the attempt is stopped and the chain not requeued.
  EXPECT_EQ(State(), AttemptState::kStopped);
  EXPECT_EQ(store_.finish->end_reason, "stopped by carol");
  EXPECT_FALSE(store_.requeued);
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate, PodSignal::kKill));
}

TEST_F(LifecycleTest, StopAndSuspendAtOnceStops) {
  clock_.At(absl::Seconds(5), [&] {
    store_.RequestSuspend("preempted");
    store_.go_suspend = true;
    store_.stop_requested = true;
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kStopped);
  EXPECT_FALSE(store_.requeued);
}

TEST_F(LifecycleTest, RanksThatExitedZeroBeforeAStopSucceed) {
  // Both ranks finish cleanly in the same heartbeat interval as the stop request.
  clock_.At(absl::Seconds(5), [&] {
    runtime_.Exit(0, 0);
    runtime_.Exit(1, 0);
    store_.stop_requested = true;
  });
  EXPECT_EQ(Run(), 0);
  // The work was done before anyone was signalled: success wins over the stop.
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  EXPECT_EQ(store_.finish->exit_code, 0);
  EXPECT_EQ(PodState(0), PodState::kSucceeded);
  EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
}

TEST_F(LifecycleTest, RanksThatExitedZeroBeforeASuspensionSucceed) {
  clock_.At(absl::Seconds(5), [&] {
    runtime_.Exit(0, 0);
    runtime_.Exit(1, 0);
    store_.RequestSuspend("preempted");
    store_.go_suspend = true;
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  EXPECT_FALSE(store_.requeued);
}

TEST_F(LifecycleTest, StopAfterOneRankFinishedStops) {
  // Rank 0 finished early; rank 1 was still working when the stop came.
  clock_.At(absl::Seconds(3), [&] { runtime_.Exit(0, 0); });
  clock_.At(absl::Seconds(5), [&] { store_.stop_requested = true; });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kStopped);
  EXPECT_EQ(PodState(0), PodState::kSucceeded);
  EXPECT_EQ(PodState(1), PodState::kStopped);
}

TEST_F(LifecycleTest, KillGraceExpirySendsSigkill) {
  runtime_.ranks[1].ignores_sigterm = true;
  clock_.At(absl::Seconds(5), [&] { store_.stop_requested = true; });
  clock_.At(absl::Seconds(15.9), [&] {
    // SIGTERM went at 6 s; the kill grace (10 s) is not over yet.
    EXPECT_THAT(runtime_.SignalsOf(1), ElementsAre(PodSignal::kTerminate));
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(runtime_.SignalsOf(1), ElementsAre(PodSignal::kTerminate, PodSignal::kKill));
  // Rank 0 honoured SIGTERM and is not killed again.
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
  EXPECT_EQ(State(), AttemptState::kStopped);
  // A rank killed while terminating is 'stopped' (the kill was ours), not 'lost'.
  EXPECT_EQ(PodState(1), PodState::kStopped);
  EXPECT_GE(clock_.Elapsed(), absl::Seconds(16));
  EXPECT_LT(clock_.Elapsed(), absl::Seconds(17));
}

TEST_F(LifecycleTest, RankThatCannotStartFailsWith127) {
  runtime_.start_errors[1] = absl::InternalError("no such image");
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kFailed);
  EXPECT_EQ(store_.finish->exit_code, 127);
  EXPECT_EQ(store_.finish->end_reason,
            "rank 1 exited with code 127 (could not start: no such image)");
  EXPECT_EQ(PodState(1), PodState::kFailed);
  EXPECT_EQ(PodState(0), PodState::kStopped);
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
}

TEST_F(LifecycleTest, WaitingRankIsStartingUntilItsCommandRuns) {
  Seed(1, AttemptState::kScheduled);
  runtime_.starts_waiting = true;  // Kubernetes: the Pod is pulling its image
  clock_.At(absl::Seconds(3), [&] { EXPECT_EQ(PodState(0), PodState::kStarting); });
  clock_.At(absl::Seconds(5), [&] { runtime_.BeginCommand(0); });
  clock_.At(absl::Seconds(7), [&] {
    EXPECT_EQ(PodState(0), PodState::kRunning);
    runtime_.Exit(0, 0);
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
}

TEST_F(LifecycleTest, StartNotRecordedIsRecordedLater) {
  // Postgres blinks as rank 0 starts: its pods row misses the start.
  store_.pod_started_unavailable = 1;
  clock_.At(absl::Seconds(3), [&] {
    // Recorded at the next heartbeat, with the runtime's id, so a later manager can adopt it.
    EXPECT_EQ(PodState(0), PodState::kRunning);
    EXPECT_EQ(store_.FindPod(0)->pid, runtime_.ranks[0].id);
    runtime_.Exit(0, 0);
    runtime_.Exit(1, 0);
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  EXPECT_EQ(PodState(0), PodState::kSucceeded);
}

TEST_F(LifecycleTest, WaitingStartNotRecordedIsRecordedLater) {
  Seed(1, AttemptState::kScheduled);
  runtime_.starts_waiting = true;
  store_.pod_started_unavailable = 1;
  clock_.At(absl::Seconds(3), [&] { EXPECT_EQ(PodState(0), PodState::kStarting); });
  clock_.At(absl::Seconds(5), [&] { runtime_.BeginCommand(0); });
  clock_.At(absl::Seconds(7), [&] {
    EXPECT_EQ(PodState(0), PodState::kRunning);
    runtime_.Exit(0, 0);
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
}

TEST_F(LifecycleTest, DatabaseOutageDefersDecisions) {
  clock_.At(absl::Seconds(5), [&] { store_.unavailable = true; });
  clock_.At(absl::Seconds(7), [&] { runtime_.Exit(0, 0); });
  clock_.At(absl::Seconds(19), [&] {
    // The exit is known, but nothing is decided without the control columns.
    EXPECT_EQ(State(), AttemptState::kRunning);
    EXPECT_THAT(runtime_.SignalsOf(1), IsEmpty());
    runtime_.Exit(1, 0);
    store_.unavailable = false;
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  EXPECT_EQ(PodState(0), PodState::kSucceeded);
}

TEST_F(LifecycleTest, FinishIsRetriedWhileTheDatabaseIsDown) {
  store_.finish_unavailable = 2;
  clock_.At(absl::Seconds(5), [&] {
    runtime_.Exit(0, 0);
    runtime_.Exit(1, 0);
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(store_.finish_calls, 3);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  // Two failed tries, one heartbeat apart.
  EXPECT_EQ(clock_.Elapsed(), absl::Seconds(10));
}

TEST_F(LifecycleTest, FinishOfAnAttemptEndedMeanwhileLeaves) {
  store_.on_finish = [&] { store_.EndElsewhere(AttemptState::kFailed); };
  clock_.At(absl::Seconds(5), [&] { runtime_.Exit(0, 1); });
  EXPECT_EQ(Run(), 0);
  // haid's end stands; the manager writes no end of its own.
  EXPECT_EQ(State(), AttemptState::kFailed);
  EXPECT_FALSE(store_.finish.has_value());
}

}  // namespace
}  // namespace hai::manager::testing
