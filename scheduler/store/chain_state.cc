// How a chain's state is shown to users, derived from its rows (never stored twice).
#include "scheduler/store/rows.h"

namespace hai::store {

model::ChainState Chain::State() const {
  using model::AttemptState;
  using model::ChainState;
  if (row.final_state.has_value()) return *row.final_state;
  const AttemptRow* cur = current();
  if (cur == nullptr) return ChainState::kQueued;
  if (model::HoldsNodes(cur->state)) return ChainState::kRunning;
  switch (cur->state) {
    // A requeued chain waits as `suspended` until it runs again.
    case AttemptState::kQueued:
      return cur->attempt_no > 0 ? ChainState::kSuspended : ChainState::kQueued;
    case AttemptState::kSuspended: return ChainState::kSuspended;  // held by the user
    default: return model::FinalChainState(cur->state);            // ended, chain row not yet final
  }
}

}  // namespace hai::store
