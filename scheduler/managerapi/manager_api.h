// The manager API as haid wires it: its own connection pool (database.manager_pool_size), the
// key of the managers' credentials (created on first start, migration 0012), the Postgres
// stores with the heartbeat batcher, and the gRPC service registered on haid's port.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "scheduler/managerapi/manager_service.h"
#include "scheduler/managerapi/manager_stores.h"
#include "scheduler/store/pool.h"

namespace hai::managerapi {

// The manager_api_key row: read, or created from the CSPRNG when missing (replicas starting
// together agree: INSERT .. ON CONFLICT DO NOTHING, then read).
absl::StatusOr<std::string> LoadOrCreateManagerKey(store::ConnectionPool& pool);

class ManagerApi {
 public:
  static absl::StatusOr<std::unique_ptr<ManagerApi>> Open(const Config& config,
                                                          const std::string& db_url);
  ManagerServiceImpl& service() { return *service_; }
  // The credential haid hands the manager of `attempt_id` (Launcher's credential).
  std::function<std::string(int64_t)> credentials() const;
  const PgManagerStores& stores() const { return *stores_; }

 private:
  ManagerApi() = default;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::string key_hex_;
  std::unique_ptr<PgManagerStores> stores_;
  std::unique_ptr<ManagerServiceImpl> service_;
};

}  // namespace hai::managerapi
