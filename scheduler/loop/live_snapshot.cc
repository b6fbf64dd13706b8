#include "scheduler/loop/live_snapshot.h"

#include <optional>
#include <utility>

#include "scheduler/loop/snapshot_builder.h"

namespace hai {

void LiveSnapshot::Sync(OpenAttemptCache& open) {
  OpenAttemptCache::Changed changed = open.TakeChanged();
  if (changed.full) {
    Rebuild(open.attempts());
    return;
  }
  for (int64_t id : changed.ids) {
    const store::OpenAttempt* o = open.Find(id);
    if (o == nullptr) {
      Remove(id);
    } else {
      Put(id, *o);
    }
  }
}

void LiveSnapshot::Rebuild(const OpenAttemptMap& open) {
  snapshot_.running.clear();
  snapshot_.queued.clear();
  queued_names_.clear();
  slots_.clear();
  with_holds_.clear();
  slots_.reserve(open.size());
  for (const auto& [id, o] : open) Put(id, o);
}

void LiveSnapshot::Put(int64_t attempt_id, const store::OpenAttempt& o) {
  std::optional<SnapshotTask> st = SnapshotTaskOf(o);
  if (!st.has_value()) {
    Remove(attempt_id);
    return;
  }
  auto it = slots_.find(attempt_id);
  if (it != slots_.end() && it->second.running == st->running) {
    // Same side: replace in place (keeps the other tasks where they are).
    auto& tasks = st->running ? snapshot_.running : snapshot_.queued;
    tasks[it->second.index] = std::move(st->task);
    if (!st->running) queued_names_[it->second.index] = o.chain.name;
    return;
  }
  if (it != slots_.end()) Remove(attempt_id);
  auto& tasks = st->running ? snapshot_.running : snapshot_.queued;
  slots_[attempt_id] = Slot{st->running, tasks.size()};
  tasks.push_back(std::move(st->task));
  if (!st->running) queued_names_.push_back(o.chain.name);
}

void LiveSnapshot::Remove(int64_t attempt_id) {
  auto it = slots_.find(attempt_id);
  if (it == slots_.end()) return;
  const Slot slot = it->second;
  slots_.erase(it);
  auto& tasks = slot.running ? snapshot_.running : snapshot_.queued;
  // Swap with the last task and shrink: O(1), the order of the vector does not matter.
  if (slot.index + 1 != tasks.size()) {
    tasks[slot.index] = std::move(tasks.back());
    if (!slot.running) queued_names_[slot.index] = std::move(queued_names_.back());
    slots_[tasks[slot.index].attempt_id].index = slot.index;
  }
  tasks.pop_back();
  if (!slot.running) queued_names_.pop_back();
}

void LiveSnapshot::SetHolds(const std::map<int64_t, std::vector<std::string>>& holds) {
  for (int64_t id : with_holds_) {
    auto it = slots_.find(id);
    if (it != slots_.end() && !it->second.running) {
      snapshot_.queued[it->second.index].reserved_nodes.clear();
    }
  }
  with_holds_.clear();
  for (const auto& [id, nodes] : holds) {
    auto it = slots_.find(id);
    if (it == slots_.end() || it->second.running) continue;
    snapshot_.queued[it->second.index].reserved_nodes = nodes;
    with_holds_.push_back(id);
  }
}

const policy::Task* LiveSnapshot::FindQueued(int64_t attempt_id) const {
  auto it = slots_.find(attempt_id);
  if (it == slots_.end() || it->second.running) return nullptr;
  return &snapshot_.queued[it->second.index];
}

}  // namespace hai
