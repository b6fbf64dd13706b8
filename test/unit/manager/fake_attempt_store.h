// FakeAttemptStore: the AttemptStore (manager/attempt_store.h) in memory, with the contract of
// PgAttemptStore: the same claim rules, control columns, pod and attempt transitions checked
// by model::CheckTransition, stop wins over suspend, requeue after a suspension unless the
// chain is held, and the fencing by manager generation (Claim increments `generation` and the
// store holds what it got; every later write is refused with ManagerSuperseded once another
// manager claimed: ClaimByOther). Every transition the store refuses is also kept in `refusals`, so
// a test fails when the lifecycle attempts an illegal one (LifecycleTest checks it is empty). The
// database clock of the control columns is the test's FakeClock.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "manager/attempt_store.h"
#include "test/unit/manager/fake_clock.h"

namespace hai::manager::testing {

class FakeAttemptStore : public AttemptStore {
 public:
  explicit FakeAttemptStore(FakeClock& clock) : clock_(clock) {}

  absl::StatusOr<ClaimResult> Claim(const std::string& token_hash) override;
  absl::Status SetTokenHash(const std::string& token_hash) override;
  absl::StatusOr<ControlState> Heartbeat() override;
  absl::Status PodStartIntended(int rank) override;
  absl::Status PodStarted(int rank, int64_t runtime_id, bool waiting) override;
  absl::Status PodWaiting(int rank, bool waiting) override;
  absl::Status AttemptRunning() override;
  absl::Status PodEnded(int rank, model::PodState pod_state, std::optional<int> exit_code) override;
  absl::StatusOr<model::AttemptState> Finish(const AttemptOutcome& outcome) override;
  std::string StopActor() override { return stop_actor; }
  absl::StatusOr<JupyterPodInfo> LoadJupyter() override;
  absl::Status ReportJupyterAddress(const std::string& host, int port) override;
  absl::Status ReportJupyterStatus(std::optional<absl::Time> activity) override;

  // ---- the rows (the test seeds them, the store writes them)
  AttemptInfo attempt;     // attempt and chain columns; attempt.pods are the pods rows
  int64_t generation = 0;  // attempts.manager_generation: every Claim increments it
  // Control columns.
  bool stop_requested = false;  // attempt's stop_requested_at or the chain's stop_requested
  std::string stop_actor;       // of the latest stop_requested event
  std::optional<absl::Time> suspend_requested_at;
  std::string suspend_reason;
  bool go_suspend = false;
  bool chain_hold = false;
  std::optional<JupyterPodInfo> jupyter;  // the jupyter_containers row

  // ---- what happened
  std::vector<std::string> events;       // task_events kinds, in order
  std::vector<std::string> refusals;     // every refused (illegal) transition
  std::optional<AttemptOutcome> finish;  // the outcome as written (state after stop-wins)
  bool requeued = false;
  int finish_calls = 0;
  std::vector<std::string> jupyter_reports;    // "address host:port", "status <activity>"
  int64_t held_generation = -1;                // what this store's Claim got (-1: not claimed)
  std::vector<std::string> superseded_writes;  // writes refused as superseded, by name

  // ---- faults
  bool unavailable = false;         // every call fails Unavailable (the database is down)
  int finish_unavailable = 0;       // the next this many Finish calls fail Unavailable
  int pod_started_unavailable = 0;  // the next this many PodStarted calls fail Unavailable
  std::function<void()> on_finish;  // runs first in every Finish (a race with haid's writer)
  // Runs first in every write after the claim, with its name ("heartbeat", "pod_started",
  // "pod_ended", ...): a successor's claim racing that write (ClaimByOther).
  std::function<void(const std::string& write)> on_write;

  // Test helpers.
  void RequestSuspend(const std::string& reason) {
    suspend_requested_at = clock_.Now();
    suspend_reason = reason;
  }
  // Another manager claims the attempt: this store's generation is superseded.
  void ClaimByOther() { ++generation; }
  // The pods row of `rank`; nullptr when there is none.
  PodInfo* FindPod(int rank);
  // The attempt ended by someone else (haid failing a lost manager): pods become lost.
  void EndElsewhere(model::AttemptState state);

 private:
  // CheckTransition, remembering a refusal.
  absl::Status Check(model::PodState from, model::PodState to, int rank);
  absl::Status Check(model::AttemptState from, model::AttemptState to);
  absl::Status Down() const;
  // on_write, then ManagerSuperseded unless this store holds the row's generation.
  absl::Status Owner(const std::string& write);

  FakeClock& clock_;
};

}  // namespace hai::manager::testing
