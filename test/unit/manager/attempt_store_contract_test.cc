// The AttemptStore contract (attempt_store_contract.h) run against FakeAttemptStore, the store
// the lifecycle's unit tests use; test/integration/manager/pg_attempt_store_test.cc runs the
// same suite against PgAttemptStore.
#include "test/unit/manager/attempt_store_contract.h"

#include <memory>

#include "test/unit/manager/fake_store_harness.h"

namespace hai::manager::testing {
namespace {

std::unique_ptr<StoreHarness> MakeFake() { return std::make_unique<FakeHarness>(); }

INSTANTIATE_TEST_SUITE_P(Fake, AttemptStoreContract, ::testing::Values(&MakeFake));

}  // namespace
}  // namespace hai::manager::testing
