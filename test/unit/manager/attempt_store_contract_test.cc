// The AttemptStore contract (attempt_store_contract.h) run against FakeAttemptStore, the store
// the lifecycle's unit tests use; test/integration/manager/pg_attempt_store_test.cc runs the
// same suite against PgAttemptStore.
#include "test/unit/manager/attempt_store_contract.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "test/unit/manager/fake_attempt_store.h"
#include "test/unit/manager/fake_clock.h"

namespace hai::manager::testing {
namespace {

class FakeHarness : public StoreHarness {
 public:
  AttemptStore& Seed(int ranks) override {
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
    return store_;
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

 private:
  FakeClock clock_;
  FakeAttemptStore store_{clock_};
};

std::unique_ptr<StoreHarness> MakeFake() { return std::make_unique<FakeHarness>(); }

INSTANTIATE_TEST_SUITE_P(Fake, AttemptStoreContract, ::testing::Values(&MakeFake));

}  // namespace
}  // namespace hai::manager::testing
