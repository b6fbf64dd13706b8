// Store's leader fence (store.h FencedWrite, sql/migrations/0013_leader_lease.sql).
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg.h"
#include "scheduler/store/store.h"

namespace hai::store {

void Store::FenceWrites(int64_t epoch) {
  fence_epoch_.store(epoch);
  superseded_by_.store(0);
}

absl::Status Store::CheckFence(pqxx::work& tx, const std::string& what, int64_t* epoch) {
  const int64_t mine = fence_epoch_.load();
  *epoch = mine;
  if (mine == kUnfenced) return absl::OkStatus();
  if (const int64_t later = superseded_by_.load(); later != 0) {
    return LeaderSupersededError(mine, later);
  }
  // FOR SHARE: a take-over's UPDATE of this row waits until this transaction ends, and a
  // check that runs after the take-over committed reads its epoch.
  const int64_t current =
      tx.exec1("SELECT epoch FROM leader_lease WHERE id = 1 FOR SHARE")[0].as<int64_t>();
  if (mine != 0 && current == mine) return absl::OkStatus();
  superseded_by_.store(current);
  absl::Status refused = LeaderSupersededError(mine, current);
  HAI_LOG(WARNING) << "refused write (" << what << "): " << refused.message();
  return refused;
}

absl::Status Store::FencedWrite(const std::string& what,
                                const std::function<absl::Status(pqxx::work&)>& fn) {
  return pool_->Write(what, [&](pqxx::work& tx) -> absl::Status {
    int64_t epoch = 0;
    if (absl::Status s = CheckFence(tx, what, &epoch); !s.ok()) return s;
    return fn(tx);
  });
}

absl::Status Store::VerifyEpoch() {
  // A write transaction that writes nothing: the same check as a fenced write.
  return FencedWrite("verify leader epoch", [](pqxx::work&) { return absl::OkStatus(); });
}

}  // namespace hai::store
