#include "scheduler/loop/open_attempts.h"

#include <utility>
#include <vector>

namespace hai {

absl::Status OpenAttemptCache::Refresh(store::Store& store) {
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
  if (changes.full) open_.clear();
  for (int64_t id : changes.closed) open_.erase(id);
  for (store::OpenAttempt& o : changes.open) {
    const int64_t id = o.attempt.attempt_id;
    open_.insert_or_assign(id, std::move(o));
  }
  since_ = changes.next_since;
}

store::OpenAttempt* OpenAttemptCache::Find(int64_t attempt_id) {
  auto it = open_.find(attempt_id);
  return it == open_.end() ? nullptr : &it->second;
}

}  // namespace hai
