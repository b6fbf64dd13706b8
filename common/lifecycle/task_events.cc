// task_events rows (task_events.h).
#include "common/lifecycle/task_events.h"

#include <string>

namespace hai::lifecycle {

void AddEvent(pqxx::transaction_base& tx, int64_t chain_id, int64_t attempt_id,
              std::string_view kind, std::string_view actor, const nlohmann::json& detail) {
  tx.exec_params(
      "INSERT INTO task_events (chain_id, attempt_id, kind, actor, detail) "
      "VALUES ($1, NULLIF($2, 0), $3, $4, $5::jsonb)",
      chain_id, attempt_id, std::string(kind), std::string(actor),
      detail.is_null() ? std::string("{}") : detail.dump());
}

}  // namespace hai::lifecycle
