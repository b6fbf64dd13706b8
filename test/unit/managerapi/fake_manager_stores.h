// ManagerStores over one FakeAttemptStore (test/unit/manager/fake_attempt_store.h): the fake
// is the database, and each call acts as the manager holding the call's generation (the fake
// keeps one held generation, set here before every call, as PgAttemptStore::Borrowing does).
#pragma once

#include "absl/synchronization/mutex.h"
#include "scheduler/managerapi/manager_stores.h"
#include "test/unit/manager/fake_attempt_store.h"

namespace hai::managerapi::testing {

class FakeManagerStores : public ManagerStores {
 public:
  explicit FakeManagerStores(manager::testing::FakeAttemptStore& db) : db_(db) {}

  absl::Status Run(int64_t attempt_id, const manager::ManagerIdentity& me, int64_t generation,
                   const std::function<absl::Status(manager::AttemptStore&)>& fn) override {
    absl::MutexLock lock(&mu_);
    ++calls;
    if (attempt_id != db_.attempt.attempt_id) return absl::NotFoundError("no such attempt");
    if (generation < 0) claimed_by = me;
    db_.held_generation = generation;
    return fn(db_);
  }
  absl::StatusOr<manager::ControlState> Heartbeat(const manager::HeartbeatKey& key) override {
    absl::MutexLock lock(&mu_);
    ++calls;
    if (key.attempt_id != db_.attempt.attempt_id) return absl::NotFoundError("no such attempt");
    db_.held_generation = key.generation;
    return db_.Heartbeat();
  }

  int calls = 0;                        // calls that reached the stores (authenticated)
  manager::ManagerIdentity claimed_by;  // the identity the last claim carried

 private:
  absl::Mutex mu_;
  manager::testing::FakeAttemptStore& db_;
};

}  // namespace hai::managerapi::testing
