// The task model's tables, checked against hand-written expectations: every legal attempt and
// pod transition is listed here once more, and every other pair must be refused with a typed
// FailedPrecondition (the refusal the lifecycle writer returns).
#include "common/model/states.h"

#include <set>
#include <utility>

#include "common/model/sql_sets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hai::model {
namespace {

using A = AttemptState;
using P = PodState;

TEST(ModelNames, EveryValueRoundTrips) {
  for (A s : kAttemptStates) EXPECT_EQ(ParseAttemptState(Name(s)), s) << Name(s);
  for (P s : kPodStates) EXPECT_EQ(ParsePodState(Name(s)), s) << Name(s);
  for (ChainState s : kChainStates) EXPECT_EQ(ParseChainState(Name(s)), s) << Name(s);
  for (NodeState s : kNodeStates) EXPECT_EQ(ParseNodeState(Name(s)), s) << Name(s);
  for (TaskKind k : kTaskKinds) EXPECT_EQ(ParseTaskKind(Name(k)), k) << Name(k);
}

TEST(ModelNames, UnknownAndWrongCaseAreRejected) {
  EXPECT_EQ(ParseAttemptState("Running"), std::nullopt);
  EXPECT_EQ(ParseAttemptState(""), std::nullopt);
  EXPECT_EQ(ParsePodState("ended"), std::nullopt);
  EXPECT_EQ(ParseNodeState("drained"), std::nullopt);
  EXPECT_EQ(ParseTaskKind("notebook"), std::nullopt);
}

TEST(AttemptPredicates, OpenHoldingEndedAreTheDocumentedSets) {
  std::set<A> open, holding, ended, ends_chain;
  for (A s : kAttemptStates) {
    if (IsOpen(s)) open.insert(s);
    if (HoldsNodes(s)) holding.insert(s);
    if (IsEnded(s)) ended.insert(s);
    if (EndsChain(s)) ends_chain.insert(s);
  }
  EXPECT_EQ(open, (std::set<A>{A::kQueued, A::kScheduled, A::kStarting, A::kRunning}));
  EXPECT_EQ(holding, (std::set<A>{A::kScheduled, A::kStarting, A::kRunning}));
  EXPECT_EQ(ended, (std::set<A>{A::kSucceeded, A::kFailed, A::kStopped, A::kSuspended}));
  // A suspended attempt ends the attempt, never the chain: the chain is requeued or held.
  EXPECT_EQ(ends_chain, (std::set<A>{A::kSucceeded, A::kFailed, A::kStopped}));
  EXPECT_EQ(FinalChainState(A::kSucceeded), ChainState::kSucceeded);
  EXPECT_EQ(FinalChainState(A::kFailed), ChainState::kFailed);
  EXPECT_EQ(FinalChainState(A::kStopped), ChainState::kStopped);
}

TEST(OtherPredicates, PodChainNode) {
  for (P s : kPodStates) {
    EXPECT_EQ(IsLive(s), s == P::kCreated || s == P::kStarting || s == P::kRunning) << Name(s);
    EXPECT_NE(IsLive(s), IsEnded(s)) << Name(s);
  }
  std::set<ChainState> final;
  for (ChainState s : kChainStates) {
    if (IsFinal(s)) final.insert(s);
  }
  EXPECT_EQ(final, (std::set<ChainState>{ChainState::kSucceeded, ChainState::kFailed,
                                         ChainState::kStopped}));
  for (NodeState s : kNodeStates) EXPECT_EQ(AcceptsWork(s), s == NodeState::kReady) << Name(s);
}

// The legal attempt transitions, written out independently of states.cc.
const std::set<std::pair<A, A>>& LegalAttemptTransitions() {
  static const auto* const kLegal = [] {
    auto* legal = new std::set<std::pair<A, A>>{
        {A::kQueued, A::kScheduled},   {A::kQueued, A::kStopped},  // stopped while queued
        {A::kQueued, A::kSuspended},                               // held while queued
        {A::kScheduled, A::kStarting}, {A::kStarting, A::kRunning},
    };
    for (A from : {A::kScheduled, A::kStarting, A::kRunning}) {
      for (A to : {A::kSucceeded, A::kFailed, A::kStopped, A::kSuspended}) {
        legal->insert({from, to});
      }
    }
    return legal;
  }();
  return *kLegal;
}

TEST(AttemptTransitions, EveryPairIsLegalExactlyWhenListed) {
  int refused = 0;
  for (A from : kAttemptStates) {
    for (A to : kAttemptStates) {
      const bool legal = LegalAttemptTransitions().count({from, to}) > 0;
      EXPECT_EQ(CanTransition(from, to), legal) << Name(from) << " -> " << Name(to);
      absl::Status s = CheckTransition(from, to);
      if (legal) {
        EXPECT_TRUE(s.ok()) << s;
      } else {
        ++refused;
        EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition)
            << Name(from) << " -> " << Name(to);
        EXPECT_THAT(std::string(s.message()),
                    ::testing::HasSubstr(std::string(Name(from)) + " -> " + std::string(Name(to))));
      }
    }
  }
  // 64 pairs, 17 legal: every one of the 47 others is a refusal case above.
  EXPECT_EQ(refused, 64 - 17);
}

TEST(AttemptTransitions, EndedAttemptsNeverReopen) {
  for (A from : kAttemptStates) {
    if (!IsEnded(from)) continue;
    for (A to : kAttemptStates)
      EXPECT_FALSE(CanTransition(from, to)) << Name(from) << " -> " << Name(to);
  }
}

TEST(PodTransitions, EveryPairIsLegalExactlyWhenListed) {
  std::set<std::pair<P, P>> legal = {
      {P::kCreated, P::kStarting},
      {P::kCreated, P::kRunning},
      {P::kStarting, P::kRunning},
      {P::kRunning, P::kStarting},  // a restarted container waits
  };
  for (P from : {P::kCreated, P::kStarting, P::kRunning}) {
    for (P to : {P::kSucceeded, P::kFailed, P::kStopped, P::kLost}) legal.insert({from, to});
  }
  for (P from : kPodStates) {
    for (P to : kPodStates) {
      const bool want = legal.count({from, to}) > 0;
      EXPECT_EQ(CanTransition(from, to), want) << Name(from) << " -> " << Name(to);
      EXPECT_EQ(CheckTransition(from, to).ok(), want) << Name(from) << " -> " << Name(to);
      if (!want) {
        EXPECT_EQ(CheckTransition(from, to).code(), absl::StatusCode::kFailedPrecondition);
      }
    }
  }
}

TEST(SqlSets, GeneratedFromThePredicates) {
  EXPECT_EQ(OpenAttemptStatesSql(), "('queued','scheduled','starting','running')");
  EXPECT_EQ(HoldingAttemptStatesSql(), "('scheduled','starting','running')");
  EXPECT_EQ(LivePodStatesSql(), "('created','starting','running')");
}

}  // namespace
}  // namespace hai::model
