// The StoreHarness (attempt_store_contract.h) of FakeAttemptStore: the contract suite runs
// against the fake itself (attempt_store_contract_test.cc) and against the manager API over
// it (test/unit/managerapi: RemoteAttemptStore -> ManagerService -> this fake).
#pragma once

#include <memory>

#include "absl/strings/str_cat.h"
#include "test/unit/manager/attempt_store_contract.h"
#include "test/unit/manager/fake_attempt_store.h"
#include "test/unit/manager/fake_clock.h"

namespace hai::manager::testing {

class FakeHarness : public StoreHarness {
 public:
  AttemptStore& Seed(int ranks) override {
    SeedRows(ranks);
    return store_;
  }
  // The rows of a 'scheduled' attempt 42 of chain 7 with `ranks` pods, 'created'.
  void SeedRows(int ranks) {
    AttemptInfo& a = store_.attempt;
    a.attempt_id = 42;
    a.chain_id = 7;
    a.attempt_no = 1;
    a.state = model::AttemptState::kScheduled;
    for (int rank = 0; rank < ranks; ++rank) {
      PodInfo pod;
      pod.rank = rank;
      pod.node = absl::StrCat("n", rank);
      a.pods.push_back(pod);
    }
  }
  model::AttemptState AttemptState() override { return store_.attempt.state; }
  model::PodState PodState(int rank) override { return store_.FindPod(rank)->state; }
  bool Requeued() override { return store_.requeued; }
  void EndElsewhere() override { store_.EndElsewhere(model::AttemptState::kFailed); }
  void RequestStop(const std::string& actor) override {
    store_.stop_requested = true;
    store_.stop_actor = actor;
  }
  void RequestSuspend(const std::string& reason) override { store_.RequestSuspend(reason); }
  void GoSuspend() override { store_.go_suspend = true; }
  ClaimResult ClaimByOther() override {
    // The row as a successor's claim leaves it and reads it; this store keeps its generation.
    store_.ClaimByOther();
    ClaimResult other;
    other.info = store_.attempt;
    if (other.info.state == model::AttemptState::kScheduled) {
      other.info.state = store_.attempt.state = model::AttemptState::kStarting;
    }
    other.generation = store_.generation;
    return other;
  }

  FakeAttemptStore& fake() { return store_; }
  FakeClock& clock() { return clock_; }

 private:
  FakeClock clock_;
  FakeAttemptStore store_{clock_};
};

}  // namespace hai::manager::testing
