// ManagerStores: where haid's manager API (manager_service.h) runs each call. The service
// authenticates and decodes; this runs the call as the store of the calling manager, so the
// service is unit-tested over in-memory stores (test/unit/managerapi) and runs over Postgres
// in haid (PgManagerStores: the manager API's own small connection pool and the heartbeat
// batcher).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/attempt_store.h"
#include "scheduler/managerapi/heartbeat_batcher.h"

namespace hai::store {
class ConnectionPool;
}

namespace hai::managerapi {

class ManagerStores {
 public:
  virtual ~ManagerStores() = default;
  // Runs fn on the store of `attempt_id` as the manager `me` holding `generation` (-1 for
  // the claim, which takes the next one: read it from the ClaimResult).
  virtual absl::Status Run(int64_t attempt_id, const manager::ManagerIdentity& me,
                           int64_t generation,
                           const std::function<absl::Status(manager::AttemptStore&)>& fn) = 0;
  // One heartbeat; may wait to share a statement with others.
  virtual absl::StatusOr<manager::ControlState> Heartbeat(const manager::HeartbeatKey& key) = 0;
};

// Over Postgres: each call borrows a connection of `pool` for PgAttemptStore's transaction;
// heartbeats go through a HeartbeatBatcher on the same pool.
class PgManagerStores : public ManagerStores {
 public:
  PgManagerStores(store::ConnectionPool& pool, absl::Duration batch_interval, size_t max_batch);
  absl::Status Run(int64_t attempt_id, const manager::ManagerIdentity& me, int64_t generation,
                   const std::function<absl::Status(manager::AttemptStore&)>& fn) override;
  absl::StatusOr<manager::ControlState> Heartbeat(const manager::HeartbeatKey& key) override;
  const HeartbeatBatcher& batcher() const { return batcher_; }

 private:
  store::ConnectionPool& pool_;
  HeartbeatBatcher batcher_;
};

}  // namespace hai::managerapi
