// Group commit for submits. Concurrent Submit handlers hand their new chain to this batcher;
// one of them (the leader) writes every chain waiting at that moment in ONE statement and
// hands each caller its own result, while the next callers queue behind it. Under load a
// submit then costs a share of one statement, one commit and one NOTIFY lock instead of its
// own (Postgres serialises committing NOTIFY senders), which is what lets submit throughput
// approach the database's raw insert rate (bench/live/submit_load.cc). Alone, a caller
// writes its chain at once with the single-chain statement: no added latency.
// Persist before replying holds: Create returns only after the statement has committed.
// If a batch statement fails, each of its chains is written alone, so a bad one fails alone.
#pragma once

#include <deque>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "scheduler/store/rows.h"

namespace hai::store {

struct ChainRequest {
  const NewChain* chain = nullptr;
  int tier = 0;
};

class SubmitBatcher {
 public:
  // Writes one chain (AlreadyExists when its name is taken).
  using SingleFn = std::function<absl::StatusOr<Chain>(const ChainRequest&)>;
  // Writes several in one statement: one result per request, in order (AlreadyExists for a
  // taken name); an error status means nothing was written.
  using BatchFn = std::function<absl::StatusOr<std::vector<absl::StatusOr<Chain>>>(
      const std::vector<ChainRequest>&)>;

  // `max_batch` chains per statement; up to `max_in_flight` statements at once (each on its
  // own pooled connection).
  SubmitBatcher(SingleFn single, BatchFn batch, int max_batch, int max_in_flight);

  // Thread-safe; blocks until the chain is committed or refused.
  absl::StatusOr<Chain> Create(const NewChain& chain, int tier);

  // Statements written and chains in them, for tests and benchmarks.
  int64_t statements() const;
  int64_t chains() const;
  // Callers waiting for a statement to take them (for tests).
  size_t waiting() const;

 private:
  struct Pending {
    ChainRequest request;
    // Each caller waits on its own condition, so a finished statement wakes only its own
    // callers and one next leader, not every waiting handler thread (a notify_all per
    // statement woke all 32-128 of them under load, each to find it had nothing to do).
    absl::CondVar cv;
    // Both written under the batcher's mu_ (not annotated: a Pending is not the batcher).
    bool leading = false;  // its thread is writing a statement (not waiting on cv)
    bool done = false;
    absl::StatusOr<Chain> result = absl::UnknownError("not written");
  };
  // Takes up to max_batch_ waiting requests, never two of one user with one name (the
  // second waits for the next statement, where it is refused as a duplicate).
  std::vector<Pending*> TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Write(const std::vector<Pending*>& batch);
  // Wakes one caller still waiting to be taken, to lead the next statement.
  void WakeNextLeader() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SingleFn single_;
  const BatchFn batch_;
  const int max_batch_;
  const int max_in_flight_;
  mutable absl::Mutex mu_;
  std::deque<Pending*> waiting_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t statements_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t chains_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hai::store
