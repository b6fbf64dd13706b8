// The heartbeats of many managers in one statement (haid's manager API batches them,
// scheduler/managerapi/heartbeat_batcher.h): each is PgAttemptStore::Heartbeat's UPDATE,
// conditioned on its own manager generation, so a batch fences exactly as one call would.
#pragma once

#include <cstdint>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "manager/attempt_store.h"

namespace hai::manager {

// One result per key, in order: the control columns, ManagerSuperseded (the attempt carries
// another generation) or NotFound (no such attempt). An error status: nothing was written.
// Rows are locked in attempt id order, so two batches (or a batch and a writer that locks
// several attempts in that order) cannot deadlock.
absl::StatusOr<std::vector<absl::StatusOr<ControlState>>> HeartbeatBatch(
    pqxx::connection& conn, const std::vector<HeartbeatKey>& keys);

}  // namespace hai::manager
