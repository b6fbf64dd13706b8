#include "scheduler/managerapi/heartbeat_batcher.h"

#include <pthread.h>

#include <algorithm>

namespace hai::managerapi {

HeartbeatBatcher::HeartbeatBatcher(BatchFn batch, absl::Duration interval, size_t max_batch)
    : batch_(std::move(batch)), interval_(interval), max_batch_(std::max<size_t>(1, max_batch)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "hai-mgr-beats");
    Run();
  });
}

HeartbeatBatcher::~HeartbeatBatcher() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  for (Pending* p : queue_) {
    p->result = absl::UnavailableError("haid is shutting down");
    p->done = true;
  }
  queue_.clear();
}

absl::StatusOr<manager::ControlState> HeartbeatBatcher::Beat(const manager::HeartbeatKey& key) {
  Pending p;
  p.key = key;
  absl::MutexLock lock(&mu_);
  if (stop_) return absl::UnavailableError("haid is shutting down");
  queue_.push_back(&p);
  mu_.Await(absl::Condition(&p.done));
  return std::move(p.result);
}

void HeartbeatBatcher::Run() {
  while (true) {
    std::vector<Pending*> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      // Pacing: beats arriving meanwhile join this statement.
      mu_.AwaitWithDeadline(absl::Condition(&stop_), last_start_ + interval_);
      if (stop_) return;
      const size_t n = std::min(queue_.size(), max_batch_);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      last_start_ = absl::Now();
    }
    std::vector<manager::HeartbeatKey> keys;
    keys.reserve(batch.size());
    for (const Pending* p : batch) keys.push_back(p->key);
    auto results = batch_(keys);
    absl::MutexLock lock(&mu_);
    ++statements_;
    beats_ += static_cast<int64_t>(batch.size());
    largest_ = std::max(largest_, batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results.ok()) {
        batch[i]->result = results.status();
      } else if (results->size() != batch.size()) {
        batch[i]->result = absl::InternalError("heartbeat batch returned a wrong count");
      } else {
        batch[i]->result = std::move((*results)[i]);
      }
      batch[i]->done = true;
    }
  }
}

int64_t HeartbeatBatcher::statements() const {
  absl::MutexLock lock(&mu_);
  return statements_;
}
int64_t HeartbeatBatcher::beats() const {
  absl::MutexLock lock(&mu_);
  return beats_;
}
size_t HeartbeatBatcher::largest_batch() const {
  absl::MutexLock lock(&mu_);
  return largest_;
}

size_t HeartbeatBatcher::waiting() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace hai::managerapi
