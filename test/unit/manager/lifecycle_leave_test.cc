// How an AttemptLifecycle begins and leaves without ending the attempt itself: adoption of
// ranks an earlier manager started, a claim that finds nothing to do, losing the attempt to
// another manager, haid ending it meanwhile, and the manager's own SIGTERM.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/auth.h"
#include "manager/run_files.h"
#include "test/unit/manager/lifecycle_fixture.h"

namespace hai::manager::testing {
namespace {

using model::AttemptState;
using model::PodState;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The attempt as a manager that died left it: 'running', both ranks running with their ids.
void SeedRunningAttempt(FakeAttemptStore& store, FakePodRuntime& runtime) {
  store.attempt.state = AttemptState::kRunning;
  store.attempt.task_token_hash = std::string(64, 'f');
  for (PodInfo& pod : store.attempt.pods) {
    pod.state = PodState::kRunning;
    pod.pid = 500 + pod.rank;
    runtime.SeedRunning(pod.rank, 500 + pod.rank);
  }
}

TEST_F(LifecycleTest, AdoptsRunningRanksAfterARestart) {
  SeedRunningAttempt(store_, runtime_);
  clock_.At(absl::Seconds(5), [&] {
    runtime_.Exit(0, 0);
    runtime_.Exit(1, 0);
  });
  EXPECT_EQ(Run(), 0);
  // Nothing is started twice: both ranks were adopted by their ids and then succeeded.
  EXPECT_EQ(runtime_.starts, 0);
  EXPECT_EQ(runtime_.adopts, 2);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
  EXPECT_THAT(store_.events, ElementsAre("manager_adopted", "pod_ended", "pod_ended", "succeeded"));
  // No token file survived: ranks started from now on get a new token, whose hash replaces
  // the stored one.
  std::optional<std::string> token = ReadRunFile(RunDir() + "/token");
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(store_.attempt.task_token_hash, HashToken(*token));
}

TEST_F(LifecycleTest, AdoptionKeepsTheTokenOfItsRunDirectory) {
  SeedRunningAttempt(store_, runtime_);
  ASSERT_TRUE(WriteRunFile(RunDir() + "/token", "the-token").ok());
  store_.attempt.task_token_hash = HashToken("the-token");
  clock_.At(absl::Seconds(5), [&] { shutdown_ = true; });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(store_.attempt.task_token_hash, HashToken("the-token"));
  // Ranks started after the adoption would get the same token as the adopted ones.
  EXPECT_THAT(runtime_.ranks[0].spec.env, Contains("HAI_TASK_TOKEN=the-token"));
}

TEST_F(LifecycleTest, RankWhoseIdIsGoneIsLostOnAdoption) {
  SeedRunningAttempt(store_, runtime_);
  runtime_.ranks.erase(1);  // rank 1's process group died with the node
  EXPECT_EQ(Run(), 0);
  // A rank that cannot be adopted is lost: the attempt is suspended and requeued.
  EXPECT_EQ(State(), AttemptState::kSuspended);
  EXPECT_TRUE(store_.requeued);
  EXPECT_EQ(PodState(1), PodState::kLost);
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kTerminate));
}

TEST_F(LifecycleTest, AdoptsARankStartedBeforeItsIdWasRecorded) {
  // The previous manager started rank 0 and wrote its pid file, then died before Postgres
  // heard of it; rank 1 was never started.
  store_.attempt.state = AttemptState::kStarting;
  runtime_.SeedRunning(0, 777);
  ASSERT_TRUE(WriteRunFile(RunDir() + "/rank-0.pid", "777").ok());
  clock_.At(absl::Seconds(5), [&] { shutdown_ = true; });
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(runtime_.adopts, 1);
  EXPECT_EQ(runtime_.starts, 1);
  EXPECT_EQ(store_.FindPod(0)->pid, 777);
  EXPECT_EQ(PodState(0), PodState::kRunning);
  EXPECT_EQ(PodState(1), PodState::kRunning);
  EXPECT_EQ(State(), AttemptState::kRunning);
}

TEST_F(LifecycleTest, RankIntendedWithoutAnIdIsAdoptedNotStartedAgain) {
  // The previous manager (generation 1) recorded its intent, started rank 0 and died before
  // any id was written anywhere; rank 1 was never tried.
  store_.attempt.state = AttemptState::kStarting;
  store_.generation = 1;
  store_.FindPod(0)->start_generation = 1;
  runtime_.SeedRunning(0, 777);
  clock_.At(absl::Seconds(5), [&] { shutdown_ = true; });
  EXPECT_EQ(Run(), 0);
  // Rank 0 came back through the runtime's Start; only rank 1 was started.
  EXPECT_EQ(runtime_.start_adoptions, 1);
  EXPECT_EQ(runtime_.starts, 1);
  EXPECT_EQ(store_.FindPod(0)->pid, 777);
  EXPECT_EQ(store_.FindPod(0)->start_generation, 2);
  EXPECT_EQ(PodState(0), PodState::kRunning);
  EXPECT_EQ(PodState(1), PodState::kRunning);
}

TEST_F(LifecycleTest, AdoptionKeepsRanksThatEndedBefore) {
  SeedRunningAttempt(store_, runtime_);
  store_.FindPod(1)->state = PodState::kSucceeded;
  store_.FindPod(1)->exit_code = 0;
  runtime_.ranks.erase(1);
  clock_.At(absl::Seconds(5), [&] { runtime_.Exit(0, 0); });
  EXPECT_EQ(Run(), 0);
  // Rank 1's recorded success counts; it is neither adopted nor recorded again.
  EXPECT_EQ(runtime_.adopts, 1);
  EXPECT_EQ(State(), AttemptState::kSucceeded);
}

TEST_F(LifecycleTest, AdoptionDuringASuspensionStillSuspends) {
  // The previous manager had begun terminating for a suspension (go_suspend came) and was
  // replaced before the ranks were gone: they exited 143 from its SIGTERM.
  SeedRunningAttempt(store_, runtime_);
  store_.RequestSuspend("preempted");
  store_.go_suspend = true;
  runtime_.Exit(0, 143);
  runtime_.Exit(1, 143);
  EXPECT_EQ(Run(), 0);
  // The suspension completes: the chain is requeued, not failed with the SIGTERM's code.
  EXPECT_EQ(State(), AttemptState::kSuspended);
  EXPECT_TRUE(store_.requeued);
}

TEST_F(LifecycleTest, ClaimOfAnEndedAttemptDoesNothing) {
  store_.attempt.state = AttemptState::kStopped;
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(runtime_.starts, 0);
  EXPECT_EQ(store_.finish_calls, 0);
  EXPECT_THAT(store_.events, IsEmpty());
}

TEST_F(LifecycleTest, ClaimOfAQueuedAttemptDoesNothing) {
  store_.attempt.state = AttemptState::kQueued;
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(runtime_.starts, 0);
  EXPECT_EQ(State(), AttemptState::kQueued);
}

TEST_F(LifecycleTest, ClaimThatFailsLeavesWithAnError) {
  store_.unavailable = true;
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(runtime_.starts, 0);
}

TEST_F(LifecycleTest, OwnershipLostLeavesWithoutEnding) {
  clock_.At(absl::Seconds(5), [&] { store_.ClaimByOther(); });
  EXPECT_EQ(Run(), 0);
  // The other manager owns the ranks now: nothing is signalled, released or ended.
  EXPECT_EQ(State(), AttemptState::kRunning);
  EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
  EXPECT_EQ(runtime_.releases, 0);
  EXPECT_EQ(store_.finish_calls, 0);
}

// Fencing (attempt_store.h): a successor claims the attempt while this manager records a
// rank's end. The refused write makes it leave at once: the other rank is not terminated,
// nothing is released or ended, and no further write is tried.
TEST_F(LifecycleTest, ClaimLostWhileRecordingARankEndLeavesWithoutTouchingRanks) {
  clock_.At(absl::Seconds(5), [&] { runtime_.Exit(1, 3); });
  store_.on_write = [&](const std::string& write) {
    if (write == "pod_ended" && store_.held_generation == store_.generation) {
      store_.ClaimByOther();
    }
  };
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(store_.superseded_writes, ElementsAre("pod_ended"));
  EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
  EXPECT_THAT(runtime_.SignalsOf(1), IsEmpty());
  EXPECT_EQ(runtime_.releases, 0);
  EXPECT_EQ(store_.finish_calls, 0);
  EXPECT_EQ(State(), AttemptState::kRunning);
  EXPECT_EQ(PodState(0), PodState::kRunning);
  EXPECT_EQ(PodState(1), PodState::kRunning);  // the successor records it
}

TEST_F(LifecycleTest, ClaimLostWhileStartingStartsNoFurtherRank) {
  store_.on_write = [&](const std::string& write) {
    if (write == "pod_started" && store_.held_generation == store_.generation) {
      store_.ClaimByOther();
    }
  };
  EXPECT_EQ(Run(), 0);
  // Rank 0 was started (its intent on record); its start could not be recorded, and rank 1
  // is the successor's to start.
  EXPECT_EQ(runtime_.starts, 1);
  EXPECT_EQ(runtime_.ranks.count(1), 0u);
  EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
  EXPECT_EQ(runtime_.releases, 0);
  EXPECT_EQ(store_.finish_calls, 0);
  EXPECT_THAT(store_.superseded_writes, ElementsAre("pod_started"));
  EXPECT_EQ(store_.FindPod(0)->start_generation, 1);
  EXPECT_FALSE(store_.FindPod(1)->start_generation.has_value());
}

TEST_F(LifecycleTest, ClaimLostBeforeAStartIsRecordedStartsNothing) {
  store_.on_write = [&](const std::string& write) {
    if (write == "pod_start_intended") store_.ClaimByOther();
  };
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(runtime_.starts, 0);
  EXPECT_EQ(runtime_.releases, 0);
  EXPECT_EQ(store_.finish_calls, 0);
}

TEST_F(LifecycleTest, EveryRankStartsAfterItsIntentIsOnRecord) {
  std::vector<int> intended_at_start;
  runtime_.on_start = [&](int rank) {
    if (store_.FindPod(rank)->start_generation == store_.held_generation) {
      intended_at_start.push_back(rank);
    }
  };
  clock_.At(absl::Seconds(5), [&] {
    runtime_.Exit(0, 0);
    runtime_.Exit(1, 0);
  });
  EXPECT_EQ(Run(), 0);
  EXPECT_THAT(intended_at_start, ElementsAre(0, 1));
  EXPECT_EQ(State(), AttemptState::kSucceeded);
}

TEST_F(LifecycleTest, EndedElsewhereKillsTheRanks) {
  clock_.At(absl::Seconds(5), [&] { store_.EndElsewhere(AttemptState::kFailed); });
  EXPECT_EQ(Run(), 0);
  // haid gave up on this manager and failed the attempt: its ranks must not run on.
  EXPECT_THAT(runtime_.SignalsOf(0), ElementsAre(PodSignal::kKill));
  EXPECT_THAT(runtime_.SignalsOf(1), ElementsAre(PodSignal::kKill));
  EXPECT_EQ(runtime_.releases, 1);
  EXPECT_EQ(store_.finish_calls, 0);
  EXPECT_EQ(State(), AttemptState::kFailed);
}

TEST_F(LifecycleTest, ShutdownLeavesRanksRunning) {
  clock_.At(absl::Seconds(5), [&] { shutdown_ = true; });
  EXPECT_EQ(Run(), 0);
  // SIGTERM to the manager only makes it exit; the next manager adopts the ranks.
  EXPECT_EQ(State(), AttemptState::kRunning);
  EXPECT_THAT(runtime_.SignalsOf(0), IsEmpty());
  EXPECT_THAT(runtime_.SignalsOf(1), IsEmpty());
  EXPECT_EQ(runtime_.releases, 0);
  EXPECT_EQ(store_.finish_calls, 0);
  EXPECT_EQ(PodState(0), PodState::kRunning);
}

TEST_F(LifecycleTest, ShutdownWhileFinishCannotBeWrittenLeaves) {
  store_.finish_unavailable = 1000;
  clock_.At(absl::Seconds(5), [&] {
    runtime_.Exit(0, 0);
    runtime_.Exit(1, 0);
  });
  clock_.At(absl::Seconds(20), [&] { shutdown_ = true; });
  // The outcome could not be written; the next manager will find the ranks gone.
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(State(), AttemptState::kRunning);
}

}  // namespace
}  // namespace hai::manager::testing
