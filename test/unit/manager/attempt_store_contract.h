// The AttemptStore contract (manager/attempt_store.h) as one test suite run against both
// implementations: FakeAttemptStore here (attempt_store_contract_test.cc) and PgAttemptStore
// against Postgres (test/integration/manager/pg_attempt_store_test.cc). The lifecycle's unit
// tests trust the fake; this suite is what makes the fake trustworthy. Each implementation
// supplies a StoreHarness that seeds an attempt and plays the other writers (haid, users).
#pragma once

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "manager/attempt_store.h"

namespace hai::manager::testing {

class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  // A 'scheduled' attempt with `ranks` pods rows, 'created'; the store of its manager.
  virtual AttemptStore& Seed(int ranks) = 0;
  virtual model::AttemptState AttemptState() = 0;
  virtual model::PodState PodState(int rank) = 0;
  // Whether the chain has a queued attempt after this one.
  virtual bool Requeued() = 0;
  // haid fails the attempt (its manager was lost): the attempt ends, its live pods 'lost'.
  virtual void EndElsewhere() = 0;
  virtual void RequestStop(const std::string& actor) = 0;
  virtual void RequestSuspend(const std::string& reason) = 0;
  virtual void GoSuspend() = 0;
  // Another manager (a successor) claims the attempt; returns what its claim got.
  virtual ClaimResult ClaimByOther() = 0;
};

using HarnessFactory = std::unique_ptr<StoreHarness> (*)();

class AttemptStoreContract : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override { harness_ = GetParam()(); }
  // Seeds and claims: the attempt is 'starting', its manager owns it.
  AttemptStore& Claimed(int ranks) {
    AttemptStore& store = harness_->Seed(ranks);
    auto claim = store.Claim(std::string(64, 'b'));
    EXPECT_TRUE(claim.ok()) << claim.status();
    return store;
  }
  std::unique_ptr<StoreHarness> harness_;
};

using model::AttemptState;
using model::PodState;

TEST_P(AttemptStoreContract, ClaimMovesAScheduledAttemptToStarting) {
  AttemptStore& store = harness_->Seed(2);
  auto claim = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_FALSE(claim->ended);
  // The info says what the attempt was before the claim.
  EXPECT_EQ(claim->info.state, AttemptState::kScheduled);
  EXPECT_EQ(claim->info.task_token_hash, std::string(64, 'b'));
  ASSERT_EQ(claim->info.pods.size(), 2u);
  EXPECT_EQ(claim->info.pods[1].rank, 1);
  EXPECT_EQ(claim->info.pods[1].state, PodState::kCreated);
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kStarting);
}

TEST_P(AttemptStoreContract, ClaimOfAnEndedAttemptWritesNothing) {
  AttemptStore& store = harness_->Seed(1);
  harness_->EndElsewhere();
  auto claim = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_TRUE(claim->ended);
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kFailed);
}

TEST_P(AttemptStoreContract, PodsStartWaitRunAndEnd) {
  AttemptStore& store = Claimed(1);
  ASSERT_TRUE(store.PodStarted(0, 1234, /*waiting=*/true).ok());
  EXPECT_EQ(harness_->PodState(0), PodState::kStarting);
  ASSERT_TRUE(store.PodWaiting(0, false).ok());
  EXPECT_EQ(harness_->PodState(0), PodState::kRunning);
  // Already running: nothing to do.
  EXPECT_TRUE(store.PodWaiting(0, false).ok());
  // A Kubernetes container restarting goes back to waiting.
  ASSERT_TRUE(store.PodWaiting(0, true).ok());
  EXPECT_EQ(harness_->PodState(0), PodState::kStarting);
  ASSERT_TRUE(store.PodEnded(0, PodState::kSucceeded, 0).ok());
  EXPECT_EQ(harness_->PodState(0), PodState::kSucceeded);
}

TEST_P(AttemptStoreContract, PodStartedOnARowInThatStateRecordsTheIdOnly) {
  AttemptStore& store = Claimed(1);
  ASSERT_TRUE(store.PodStarted(0, 1234, false).ok());
  EXPECT_TRUE(store.PodStarted(0, 1234, false).ok());
  EXPECT_EQ(harness_->PodState(0), PodState::kRunning);
}

TEST_P(AttemptStoreContract, EndedPodIsNeverRestartedOrEndedAgain) {
  AttemptStore& store = Claimed(1);
  ASSERT_TRUE(store.PodStarted(0, 1234, false).ok());
  ASSERT_TRUE(store.PodEnded(0, PodState::kFailed, 3).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store.PodEnded(0, PodState::kStopped, 143)));
  EXPECT_TRUE(absl::IsFailedPrecondition(store.PodStarted(0, 99, false)));
  EXPECT_TRUE(absl::IsFailedPrecondition(store.PodWaiting(0, true)));
  EXPECT_EQ(harness_->PodState(0), PodState::kFailed);
}

TEST_P(AttemptStoreContract, PodEndedNeedsAnEndedState) {
  AttemptStore& store = Claimed(1);
  EXPECT_TRUE(absl::IsInvalidArgument(store.PodEnded(0, PodState::kRunning, std::nullopt)));
}

TEST_P(AttemptStoreContract, PodWaitingOfAnUnstartedPodIsRefused) {
  AttemptStore& store = Claimed(1);
  EXPECT_TRUE(absl::IsFailedPrecondition(store.PodWaiting(0, false)));
  EXPECT_EQ(harness_->PodState(0), PodState::kCreated);
}

TEST_P(AttemptStoreContract, PodOfAnAttemptEndedElsewhereIsNotRevived) {
  AttemptStore& store = Claimed(1);
  harness_->EndElsewhere();
  EXPECT_TRUE(absl::IsFailedPrecondition(store.PodStarted(0, 1234, false)));
  EXPECT_EQ(harness_->PodState(0), PodState::kLost);
}

TEST_P(AttemptStoreContract, AttemptRunsOnlyFromStarting) {
  AttemptStore& store = Claimed(1);
  ASSERT_TRUE(store.AttemptRunning().ok());
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kRunning);
  // An adopting manager calls it again: no change, no error.
  EXPECT_TRUE(store.AttemptRunning().ok());
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kRunning);
}

TEST_P(AttemptStoreContract, HeartbeatReadsTheControlColumns) {
  AttemptStore& store = Claimed(1);
  auto quiet = store.Heartbeat();
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_FALSE(quiet->ended_elsewhere || quiet->stop_requested || quiet->suspend_requested ||
               quiet->go_suspend);
  harness_->RequestSuspend("preempted");
  harness_->GoSuspend();
  harness_->RequestStop("bob");
  auto asked = store.Heartbeat();
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_TRUE(asked->stop_requested);
  EXPECT_TRUE(asked->suspend_requested);
  EXPECT_EQ(asked->suspend_reason, "preempted");
  EXPECT_TRUE(asked->go_suspend);
  EXPECT_GE(asked->seconds_since_suspend_request, 0);
  EXPECT_EQ(store.StopActor(), "bob");
}

TEST_P(AttemptStoreContract, HeartbeatSeesTheEnd) {
  AttemptStore& store = Claimed(1);
  harness_->EndElsewhere();
  auto ended = store.Heartbeat();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->ended_elsewhere);
}

TEST_P(AttemptStoreContract, EachClaimTakesTheNextGeneration) {
  AttemptStore& store = harness_->Seed(1);
  auto first = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(first.ok()) << first.status();
  const ClaimResult second = harness_->ClaimByOther();
  EXPECT_FALSE(second.ended);
  EXPECT_GT(second.generation, first->generation);
  EXPECT_EQ(second.info.state, AttemptState::kStarting);
}

// Two managers for one attempt: once a successor claimed it, every write of the first one is
// refused as superseded and changes nothing.
TEST_P(AttemptStoreContract, StaleManagersWritesAreRefusedAndChangeNothing) {
  AttemptStore& store = harness_->Seed(2);
  auto first = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(store.PodStartIntended(0).ok());
  ASSERT_TRUE(store.PodStarted(0, 1234, false).ok());
  ASSERT_TRUE(store.AttemptRunning().ok());
  const ClaimResult successor = harness_->ClaimByOther();
  const std::string why = absl::StrCat("manager generation ", first->generation, " superseded by ",
                                       successor.generation);
  auto refused = [&](const absl::Status& s, const std::string& write) {
    EXPECT_TRUE(IsSuperseded(s)) << write << ": " << s;
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << write << ": " << s;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(why)) << write;
  };
  refused(store.Heartbeat().status(), "heartbeat");
  refused(store.PodEnded(0, PodState::kFailed, 3), "pod ended");
  refused(store.PodWaiting(0, true), "pod waiting");
  refused(store.PodStartIntended(1), "pod start intended");
  refused(store.PodStarted(1, 99, false), "pod started");
  refused(store.AttemptRunning(), "attempt running");
  refused(store.SetTokenHash(std::string(64, 'c')), "set token hash");
  refused(store.ReportJupyterAddress("127.0.0.1", 8888), "jupyter address");
  refused(store.ReportJupyterStatus(std::nullopt), "jupyter status");
  refused(store.Finish({AttemptState::kFailed, 3, "rank 0 exited with code 3"}).status(), "finish");
  // Nothing changed: the successor's attempt runs on with the ranks as they were.
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kRunning);
  EXPECT_EQ(harness_->PodState(0), PodState::kRunning);
  EXPECT_EQ(harness_->PodState(1), PodState::kCreated);
  EXPECT_FALSE(harness_->Requeued());
}

// The intent to start a rank is what a successor's claim reads back: a rank intended and not
// recorded may exist, one never intended cannot.
TEST_P(AttemptStoreContract, StartIntentIsSeenByTheNextClaim) {
  AttemptStore& store = harness_->Seed(2);
  auto first = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->info.pods[0].start_generation.has_value());
  ASSERT_TRUE(store.PodStartIntended(0).ok());
  const ClaimResult successor = harness_->ClaimByOther();
  ASSERT_EQ(successor.info.pods.size(), 2u);
  EXPECT_EQ(successor.info.pods[0].start_generation, first->generation);
  EXPECT_FALSE(successor.info.pods[0].pid.has_value());
  EXPECT_FALSE(successor.info.pods[1].start_generation.has_value());
}

TEST_P(AttemptStoreContract, StartIntentOfAnEndedPodIsRefused) {
  AttemptStore& store = Claimed(1);
  harness_->EndElsewhere();
  absl::Status s = store.PodStartIntended(0);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_FALSE(IsSuperseded(s));
}

TEST_P(AttemptStoreContract, FinishEndsTheAttemptAndItsLivePods) {
  AttemptStore& store = Claimed(2);
  ASSERT_TRUE(store.PodStarted(0, 1, false).ok());
  ASSERT_TRUE(store.PodStarted(1, 2, false).ok());
  ASSERT_TRUE(store.AttemptRunning().ok());
  ASSERT_TRUE(store.PodEnded(1, PodState::kFailed, 3).ok());
  auto written = store.Finish({AttemptState::kFailed, 3, "rank 1 exited with code 3"});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, AttemptState::kFailed);
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kFailed);
  EXPECT_EQ(harness_->PodState(0), PodState::kStopped);
  EXPECT_EQ(harness_->PodState(1), PodState::kFailed);
  EXPECT_FALSE(harness_->Requeued());
  // Ended once: a second end is refused.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      store.Finish({AttemptState::kSucceeded, 0, "all ranks exited with code 0"}).status()));
}

TEST_P(AttemptStoreContract, SuspensionRequeuesTheChain) {
  AttemptStore& store = Claimed(1);
  auto written = store.Finish({AttemptState::kSuspended, std::nullopt, "suspended: preempted"});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, AttemptState::kSuspended);
  EXPECT_TRUE(harness_->Requeued());
}

TEST_P(AttemptStoreContract, StopWinsOverSuspendWhenFinishing) {
  AttemptStore& store = Claimed(1);
  harness_->RequestStop("bob");
  auto written = store.Finish({AttemptState::kSuspended, std::nullopt, "suspended: preempted"});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, AttemptState::kStopped);
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kStopped);
  EXPECT_FALSE(harness_->Requeued());
}

TEST_P(AttemptStoreContract, FinishOfAnAttemptEndedElsewhereIsRefused) {
  AttemptStore& store = Claimed(1);
  harness_->EndElsewhere();
  EXPECT_TRUE(absl::IsFailedPrecondition(
      store.Finish({AttemptState::kSucceeded, 0, "all ranks exited with code 0"}).status()));
  EXPECT_EQ(harness_->AttemptState(), AttemptState::kFailed);
}

}  // namespace hai::manager::testing
