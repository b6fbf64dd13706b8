#include "scheduler/loop/open_attempts.h"

#include <utility>
#include <vector>

#include "common/model/states.h"

namespace hai {

absl::Status OpenAttemptCache::Refresh(store::LoopReads& store) {
  const std::vector<int64_t> recheck(recheck_.begin(), recheck_.end());
  auto changes = store.LoadOpenAttemptChanges(since_, recheck);
  if (!changes.ok()) return changes.status();
  recheck_.clear();
  Apply(*std::move(changes));
  return absl::OkStatus();
}

void OpenAttemptCache::Apply(store::OpenAttemptChanges changes) {
  last_full_ = changes.full;
  last_rows_ = static_cast<int64_t>(changes.open.size() + changes.closed.size());
  if (changes.full) {
    changed_ = {true, {}};
    open_ = std::move(changes.open);
    index_.clear();
    holding_.clear();
    stop_queued_.clear();
    for (auto& [id, o] : open_) Index(o);
  } else {
    for (int64_t id : changes.closed) Forget(id);
    for (auto& [id, o] : changes.open) {
      Forget(id);  // records the id as changed
      Index(open_.insert_or_assign(id, std::move(o)).first->second);
    }
  }
  since_ = changes.next_since;
}

void OpenAttemptCache::Index(store::OpenAttempt& o) {
  const int64_t id = o.attempt.attempt_id;
  index_[id] = &o;
  if (model::HoldsNodes(o.attempt.state)) {
    holding_.insert(id);
  } else if (o.chain.stop_requested) {
    stop_queued_.insert(id);
  }
}

OpenAttemptCache::Changed OpenAttemptCache::TakeChanged() {
  Changed out = std::move(changed_);
  changed_ = {};
  return out;
}

void OpenAttemptCache::Forget(int64_t attempt_id) {
  if (!changed_.full) changed_.ids.push_back(attempt_id);
  index_.erase(attempt_id);
  holding_.erase(attempt_id);
  stop_queued_.erase(attempt_id);
  open_.erase(attempt_id);
}

store::OpenAttempt* OpenAttemptCache::Find(int64_t attempt_id) {
  auto it = index_.find(attempt_id);
  return it == index_.end() ? nullptr : it->second;
}

const store::OpenAttempt* OpenAttemptCache::Find(int64_t attempt_id) const {
  auto it = index_.find(attempt_id);
  return it == index_.end() ? nullptr : it->second;
}

}  // namespace hai
