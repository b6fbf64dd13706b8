#include "manager/pg/pg_attempt_store.h"
#include "manager/pg/pg_heartbeat_batch.h"
#include "scheduler/managerapi/manager_stores.h"
#include "scheduler/store/pool.h"

namespace hai::managerapi {

PgManagerStores::PgManagerStores(store::ConnectionPool& pool, absl::Duration batch_interval,
                                 size_t max_batch)
    : pool_(pool),
      batcher_(
          [this](const std::vector<manager::HeartbeatKey>& keys) {
            absl::StatusOr<std::vector<absl::StatusOr<manager::ControlState>>> out =
                absl::UnknownError("not run");
            absl::Status s = pool_.WithConnection("heartbeat batch", [&](pqxx::connection& c) {
              out = manager::HeartbeatBatch(c, keys);
              return out.status();
            });
            if (!s.ok()) return decltype(out)(s);
            return out;
          },
          batch_interval, max_batch) {}

absl::Status PgManagerStores::Run(int64_t attempt_id, const manager::ManagerIdentity& me,
                                  int64_t generation,
                                  const std::function<absl::Status(manager::AttemptStore&)>& fn) {
  return pool_.WithConnection("manager api", [&](pqxx::connection& c) {
    auto store = manager::PgAttemptStore::Borrowing(c, attempt_id, me, generation);
    return fn(*store);
  });
}

absl::StatusOr<manager::ControlState> PgManagerStores::Heartbeat(const manager::HeartbeatKey& key) {
  return batcher_.Beat(key);
}

}  // namespace hai::managerapi
