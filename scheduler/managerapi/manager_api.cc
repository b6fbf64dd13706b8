#include "scheduler/managerapi/manager_api.h"

#include "common/manager_credential.h"

namespace hai::managerapi {

absl::StatusOr<std::string> LoadOrCreateManagerKey(store::ConnectionPool& pool) {
  std::string key;
  absl::Status s = pool.Write("manager api key", [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO manager_api_key (id, key_hex) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        NewManagerKey());
    auto r = tx.exec("SELECT key_hex FROM manager_api_key WHERE id = 1");
    key = r[0][0].as<std::string>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return key;
}

absl::StatusOr<std::unique_ptr<ManagerApi>> ManagerApi::Open(const Config& config,
                                                             const std::string& db_url) {
  std::unique_ptr<ManagerApi> api(new ManagerApi());
  auto pool = store::ConnectionPool::Open(db_url, config.database.manager_pool_size,
                                          config.database.pool_wait_timeout);
  if (!pool.ok()) return pool.status();
  api->pool_ = *std::move(pool);
  auto key = LoadOrCreateManagerKey(*api->pool_);
  if (!key.ok()) return key.status();
  api->key_hex_ = *std::move(key);
  // A batch never holds more beats than all managers send in two intervals at 1 per
  // heartbeat_ms each, far below this; the cap only bounds one statement's size.
  api->stores_ =
      std::make_unique<PgManagerStores>(*api->pool_, config.manager.heartbeat_batch, 5000);
  api->service_ = std::make_unique<ManagerServiceImpl>(*api->stores_, api->key_hex_);
  return api;
}

std::function<std::string(int64_t)> ManagerApi::credentials() const {
  return [key = key_hex_](int64_t attempt_id) { return ManagerCredential(key, attempt_id); };
}

}  // namespace hai::managerapi
