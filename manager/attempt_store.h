// AttemptStore: every SQL statement hai-manager runs, behind a narrow typed interface so the
// lifecycle (lifecycle.h) reads as the protocol it implements. Postgres is the truth: the
// manager re-reads the control columns (stop/suspend/go_suspend) every heartbeat, and every
// state change it makes is one transaction that also writes its task_events row.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/model/states.h"
#include "manager/attempt_info.h"

namespace hai::manager {

// Who this manager is, as recorded in attempts.manager_pid/manager_host.
struct ManagerIdentity {
  int pid = 0;
  std::string host;
};

struct ClaimResult {
  bool ended = false;  // the attempt already ended: nothing to do
  AttemptInfo info;    // info.state is the state before the claim
};

// The control columns as of one heartbeat.
struct ControlState {
  bool owned = true;  // false: another manager claimed the attempt; this one must go
  // The attempt was ended by someone else (haid gave up on this manager): its ranks must go.
  bool ended_elsewhere = false;
  bool stop_requested = false;
  bool suspend_requested = false;
  std::string suspend_reason;
  bool go_suspend = false;
  double seconds_since_suspend_request = 0;  // by the database clock
};

// How an attempt ends. exit_code is set for succeeded/failed.
struct AttemptOutcome {
  model::AttemptState state = model::AttemptState::kFailed;  // an ended state
  std::optional<int> exit_code;
  std::string end_reason;
};

class AttemptStore {
 public:
  static absl::StatusOr<std::unique_ptr<AttemptStore>> Connect(const std::string& url,
                                                               int64_t attempt_id,
                                                               ManagerIdentity me);

  // Locks the attempt, records this manager as its owner and, when it was 'scheduled',
  // stores `token_hash` and moves it to 'starting'.
  absl::StatusOr<ClaimResult> Claim(const std::string& token_hash);
  // Replaces the task token hash (adoption found no token file).
  absl::Status SetTokenHash(const std::string& token_hash);

  // Heartbeat + control poll in one statement; owned=false when the row names another
  // manager (it was declared lost and replaced).
  absl::StatusOr<ControlState> Heartbeat();

  // The rank was started (or adopted) as runtime id `runtime_id`: pods row 'running', or
  // 'starting' while the runtime reports the command has not started yet (`waiting`).
  absl::Status PodStarted(int rank, int64_t runtime_id, bool waiting = false);
  // A started rank's command began running (`waiting` false) or is not running yet: moves
  // the pods row between 'starting' and 'running' (never out of an end state).
  absl::Status PodWaiting(int rank, bool waiting);
  // All ranks started: attempt 'running'.
  absl::Status AttemptRunning();
  // pod_state: an ended pod state (succeeded|failed|stopped|lost).
  absl::Status PodEnded(int rank, model::PodState pod_state, std::optional<int> exit_code);

  // Ends the attempt in one transaction: attempt row, remaining pods ('stopped'), the chain
  // (final state, or a new queued attempt after a suspend unless the chain is stopped or
  // held) and task_events. Returns the state actually written (a suspend of a chain whose
  // stop was requested meanwhile becomes 'stopped'); FailedPrecondition if the attempt had
  // already ended.
  absl::StatusOr<model::AttemptState> Finish(const AttemptOutcome& outcome);

  // The actor of the latest stop request ("" when unknown), for "stopped by <actor>".
  std::string StopActor();

  // ---- Jupyter containers (jupyter_attempt_store.cc)
  // Resources and the owner's token hash of a jupyter chain; NotFound without its row.
  absl::StatusOr<JupyterPodInfo> LoadJupyter();
  // This attempt serves on `host`:`port` (not answering yet): earlier reports become stale.
  absl::Status ReportJupyterAddress(const std::string& host, int port);
  // The server answered; `activity` is its last_activity when it gave one.
  absl::Status ReportJupyterStatus(std::optional<absl::Time> activity);

 private:
  AttemptStore(std::unique_ptr<pqxx::connection> conn, int64_t attempt_id, ManagerIdentity me)
      : conn_(std::move(conn)), attempt_id_(attempt_id), me_(std::move(me)) {}
  absl::Status Reconnect();

  std::unique_ptr<pqxx::connection> conn_;
  std::string url_;
  int64_t attempt_id_;
  int64_t chain_id_ = 0;
  ManagerIdentity me_;
};

}  // namespace hai::manager
