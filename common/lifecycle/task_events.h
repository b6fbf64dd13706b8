// The one way to append a task_events row, used by haid and hai-manager alike: every state
// transition writes one (who did it, what, why), so a task's history explains itself.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace hai::lifecycle {

// kind: the event name (docs/architecture.md lists them); actor: "scheduler", "haid",
// "manager", "task" or a user name; attempt_id 0 = an event of the chain only.
void AddEvent(pqxx::transaction_base& tx, int64_t chain_id, int64_t attempt_id,
              std::string_view kind, std::string_view actor,
              const nlohmann::json& detail = nlohmann::json::object());

}  // namespace hai::lifecycle
