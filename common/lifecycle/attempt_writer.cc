// Attempt endings, requeues and chain closings (attempt_writer.h).
#include "common/lifecycle/attempt_writer.h"

#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/lifecycle/task_events.h"
#include "common/model/sql_sets.h"
#include "common/model/tier.h"

namespace hai::lifecycle {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

}  // namespace

absl::StatusOr<Ended> EndAttempt(pqxx::work& tx, int64_t attempt_id, const Ending& ending) {
  if (!model::IsEnded(ending.state)) {
    return absl::InvalidArgumentError(
        absl::StrCat("EndAttempt needs an ended state, not ", Str(model::Name(ending.state))));
  }
  // Lock order: chain row first (as every writer of a chain does), then the attempt row.
  auto chain = tx.exec_params(
      "SELECT c.chain_id, c.stop_requested, c.hold FROM chains c "
      "WHERE c.chain_id = (SELECT chain_id FROM attempts WHERE attempt_id = $1) FOR UPDATE",
      attempt_id);
  if (chain.empty()) return absl::NotFoundError(absl::StrCat("no attempt ", attempt_id));
  Ended out;
  out.chain_id = chain[0][0].as<int64_t>();
  const bool chain_stop = chain[0][1].as<bool>();
  const bool chain_hold = chain[0][2].as<bool>();
  auto attempt =
      tx.exec_params("SELECT state FROM attempts WHERE attempt_id = $1 FOR UPDATE", attempt_id);
  const std::string current_name = attempt[0][0].as<std::string>();
  std::optional<model::AttemptState> current = model::ParseAttemptState(current_name);
  if (!current.has_value()) {
    return absl::InternalError(
        absl::StrCat("attempt ", attempt_id, " has unknown state '", current_name, "'"));
  }
  if (model::IsEnded(*current)) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", attempt_id, " already ended (", current_name, ")"));
  }
  out.state = ending.state;
  out.reason = ending.reason;
  // Stop wins over suspend: a chain whose stop was requested is never requeued.
  if (out.state == model::AttemptState::kSuspended && chain_stop) {
    out.state = model::AttemptState::kStopped;
    out.reason = absl::StrCat(out.reason, "; stop requested");
  }
  if (absl::Status s = model::CheckTransition(*current, out.state); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("attempt ", attempt_id, ": ", s.message()));
  }
  tx.exec_params(
      "UPDATE attempts SET state = $2, exit_code = $3, end_reason = $4, "
      "ended_at = clock_timestamp() WHERE attempt_id = $1",
      attempt_id, Str(model::Name(out.state)), ending.exit_code, out.reason);
  tx.exec_params(absl::StrCat("UPDATE pods SET state = $2, ended_at = coalesce(ended_at, "
                              "clock_timestamp()) WHERE attempt_id = $1 AND state IN ",
                              model::LivePodStatesSql()),
                 attempt_id, Str(model::Name(ending.live_pods_become)));
  nlohmann::json detail = {{"reason", out.reason}};
  if (ending.exit_code.has_value()) detail["exit_code"] = *ending.exit_code;
  AddEvent(tx, out.chain_id, attempt_id, model::Name(out.state), ending.actor, detail);
  if (model::EndsChain(out.state)) {
    CloseChain(tx, out.chain_id, model::FinalChainState(out.state), ending.exit_code);
    out.chain_closed = true;
  } else if (!chain_hold) {
    out.requeued = RequeueChain(tx, out.chain_id, attempt_id, ending.actor);
    if (ending.self_inflicted) {
      tx.exec_params("UPDATE chains SET self_requeues = self_requeues + 1 WHERE chain_id = $1",
                     out.chain_id);
    }
  }
  return out;
}

int64_t RequeueChain(pqxx::work& tx, int64_t chain_id, int64_t after_attempt_id,
                     const std::string& actor) {
  auto prev = tx.exec_params1(
      "SELECT a.attempt_no, a.tier, c.priority FROM attempts a JOIN chains c USING (chain_id) "
      "WHERE a.attempt_id = $1",
      after_attempt_id);
  const int tier = model::RequeueTier(prev[2].as<int>(), prev[1].as<int>());
  auto next = tx.exec_params1(
      "INSERT INTO attempts (chain_id, attempt_no, state, tier) "
      "VALUES ($1, $2, $3, $4) RETURNING attempt_id",
      chain_id, prev[0].as<int>() + 1, Str(model::Name(model::AttemptState::kQueued)), tier);
  const int64_t id = next[0].as<int64_t>();
  AddEvent(tx, chain_id, id, "requeued", actor,
           {{"after_attempt_id", after_attempt_id}, {"tier", tier}});
  return id;
}

void CloseChain(pqxx::work& tx, int64_t chain_id, model::ChainState final_state,
                std::optional<int> exit_code) {
  tx.exec_params(
      "UPDATE chains SET final_state = $2, exit_code = $3, finished_at = clock_timestamp() "
      "WHERE chain_id = $1 AND final_state IS NULL",
      chain_id, Str(model::Name(final_state)), exit_code);
}

}  // namespace hai::lifecycle
