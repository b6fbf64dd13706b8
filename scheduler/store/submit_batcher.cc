#include "scheduler/store/submit_batcher.h"

#include <set>
#include <string>
#include <utility>

namespace hai::store {

SubmitBatcher::SubmitBatcher(SingleFn single, BatchFn batch, int max_batch, int max_in_flight)
    : single_(std::move(single)),
      batch_(std::move(batch)),
      max_batch_(max_batch < 1 ? 1 : max_batch),
      max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight) {}

absl::StatusOr<Chain> SubmitBatcher::Create(const NewChain& chain, int tier) {
  Pending me;
  me.request = {&chain, tier};
  absl::MutexLock lock(&mu_);
  waiting_.push_back(&me);
  while (!me.done) {
    if (in_flight_ < max_in_flight_ && !waiting_.empty()) {
      // Lead: write what is waiting now (our own request among it unless a leader before
      // us took it), then look again.
      std::vector<Pending*> batch = TakeBatch();
      ++in_flight_;
      me.leading = true;
      mu_.Unlock();
      Write(batch);
      mu_.Lock();
      me.leading = false;
      --in_flight_;
      ++statements_;
      chains_ += static_cast<int64_t>(batch.size());
      for (Pending* p : batch) {
        p->done = true;
        if (p != &me) p->cv.Signal();
      }
      // The slot this statement held is free: if we are done, hand it to a waiting caller.
      if (me.done) WakeNextLeader();
      continue;
    }
    me.cv.Wait(&mu_);
  }
  return std::move(me.result);
}

void SubmitBatcher::WakeNextLeader() {
  if (in_flight_ >= max_in_flight_) return;
  for (Pending* p : waiting_) {
    if (!p->leading) {
      p->cv.Signal();
      return;
    }
  }
}

std::vector<SubmitBatcher::Pending*> SubmitBatcher::TakeBatch() {
  std::vector<Pending*> batch;
  std::set<std::pair<std::string, std::string>> names;
  for (auto it = waiting_.begin();
       it != waiting_.end() && static_cast<int>(batch.size()) < max_batch_;) {
    const NewChain& c = *(*it)->request.chain;
    if (!names.insert({c.user, c.name}).second) {
      ++it;  // same user and name as one already in this batch: next statement
      continue;
    }
    batch.push_back(*it);
    it = waiting_.erase(it);
  }
  return batch;
}

void SubmitBatcher::Write(const std::vector<Pending*>& batch) {
  if (batch.size() == 1) {
    batch[0]->result = single_(batch[0]->request);
    return;
  }
  std::vector<ChainRequest> requests;
  requests.reserve(batch.size());
  for (const Pending* p : batch) requests.push_back(p->request);
  auto results = batch_(requests);
  if (results.ok() && results->size() == batch.size()) {
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move((*results)[i]);
    return;
  }
  // Nothing was written: each alone, so one bad chain fails alone.
  for (Pending* p : batch) p->result = single_(p->request);
}

int64_t SubmitBatcher::statements() const {
  absl::MutexLock lock(&mu_);
  return statements_;
}

size_t SubmitBatcher::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_.size();
}

int64_t SubmitBatcher::chains() const {
  absl::MutexLock lock(&mu_);
  return chains_;
}

}  // namespace hai::store
