// How a chain's state is shown to users, derived from its rows (never stored twice).
#include "scheduler/store/rows.h"

namespace hai::store {

std::string Chain::State() const {
  if (row.final_state.has_value()) return *row.final_state;
  const AttemptRow* cur = current();
  if (cur == nullptr) return "queued";
  if (cur->state == "queued") return cur->attempt_no > 0 ? "suspended" : "queued";
  if (cur->state == "scheduled" || cur->state == "starting" || cur->state == "running") {
    return "running";
  }
  if (cur->state == "suspended") return "suspended";  // held by the user
  return cur->state;
}

}  // namespace hai::store
