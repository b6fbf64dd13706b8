// AttemptStore: every read and write hai-manager makes about its attempt, behind a narrow
// typed interface so the lifecycle (lifecycle.h) reads as the protocol it implements and is
// unit-tested against an in-memory store (test/unit/manager/fake_attempt_store.h). Postgres is
// the truth (manager/pg/pg_attempt_store.h): the manager re-reads the control columns
// (stop/suspend/go_suspend) every heartbeat, and every state change it makes is one
// transaction that also writes its task_events row. Pure header: no pqxx.
//
// Every state change is checked against the task model's transition tables
// (model::CheckTransition): an illegal one is refused with FailedPrecondition and nothing is
// written. Other errors (Unavailable: the database is unreachable) are worth a retry.
//
// Fencing: every Claim increments the attempt's manager generation (attempts.
// manager_generation) and the store holds the value its claim got. Every later write is
// conditioned on the row still carrying it; once another manager claimed the attempt, each
// write is refused with ManagerSuperseded (FailedPrecondition, told apart by IsSuperseded)
// and changes nothing. The lifecycle then leaves at once without touching the ranks: they
// belong to the successor, which adopts them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/model/states.h"
#include "manager/attempt_info.h"
#include "manager/jupyter_info.h"

namespace hai::manager {

inline constexpr char kSupersededPayload[] = "type.hai/manager_superseded";

// The refusal of a write by a manager whose claim a later one replaced.
inline absl::Status ManagerSuperseded(int64_t mine, int64_t current) {
  absl::Status s =
      absl::FailedPreconditionError(absl::StrCat("manager generation ", mine, " superseded by ",
                                                 current, ": another manager claimed the attempt"));
  s.SetPayload(kSupersededPayload, absl::Cord(absl::StrCat(current)));
  return s;
}
inline bool IsSuperseded(const absl::Status& s) {
  return s.GetPayload(kSupersededPayload).has_value();
}

// Who this manager is, as recorded in attempts.manager_pid/manager_host/manager_start_time.
struct ManagerIdentity {
  int pid = 0;
  std::string host;
  // Field 22 of /proc/self/stat (common/proc.h): with the pid, what haid checks before it
  // trusts or kills the recorded manager. nullopt when unreadable (recorded as NULL).
  std::optional<int64_t> start_time;
};

struct ClaimResult {
  bool ended = false;      // the attempt already ended (or is not placed): nothing to do
  AttemptInfo info;        // info.state is the state before the claim
  int64_t generation = 0;  // the manager generation this claim got (0 when ended)
};

// One manager's heartbeat as haid's manager API batches them (manager/pg/pg_heartbeat_batch.h).
struct HeartbeatKey {
  int64_t attempt_id = 0;
  int64_t generation = 0;
};

// The control columns as of one heartbeat.
struct ControlState {
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
  // A suspension because the task ended itself: the store adds it to chains.self_requeues
  // when the chain is requeued (lifecycle::Ending::self_inflicted).
  bool self_inflicted = false;
};

class AttemptStore {
 public:
  virtual ~AttemptStore() = default;

  // Locks the attempt, records this manager as its owner with the next manager generation
  // (held by the store for every later write) and, when it was 'scheduled', stores
  // `token_hash` and moves it to 'starting'. An attempt that does not hold nodes (queued, or
  // ended) is returned with ended = true and nothing is written.
  virtual absl::StatusOr<ClaimResult> Claim(const std::string& token_hash) = 0;
  // Replaces the task token hash (adoption found no token file).
  virtual absl::Status SetTokenHash(const std::string& token_hash) = 0;

  // Heartbeat + control poll in one statement; ManagerSuperseded when another manager
  // claimed the attempt since (this one was declared lost and replaced).
  virtual absl::StatusOr<ControlState> Heartbeat() = 0;

  // The intent to start `rank`, written before the runtime is asked to start it: pods row
  // start_generation = this manager's generation (the row's state stays). A successor that
  // finds the intent without an id knows the rank may exist and adopts it through the
  // runtime instead of starting a second one. FailedPrecondition when the row ended.
  virtual absl::Status PodStartIntended(int rank) = 0;

  // The rank was started (or adopted) as runtime id `runtime_id`: pods row 'running', or
  // 'starting' while the runtime reports the command has not started yet (`waiting`). A row
  // already in that state only gets the id. FailedPrecondition when the row cannot move there
  // (it already ended).
  virtual absl::Status PodStarted(int rank, int64_t runtime_id, bool waiting) = 0;
  // A started rank's command began running (`waiting` false) or is not running yet: moves
  // the pods row between 'starting' and 'running'. Already there: nothing to do (OK).
  // FailedPrecondition from any other state (not started, or ended).
  virtual absl::Status PodWaiting(int rank, bool waiting) = 0;
  // All ranks started: attempt 'running' (only from 'starting'; otherwise nothing is written).
  virtual absl::Status AttemptRunning() = 0;
  // pod_state: an ended pod state (succeeded|failed|stopped|lost). FailedPrecondition when
  // the row already ended.
  virtual absl::Status PodEnded(int rank, model::PodState pod_state,
                                std::optional<int> exit_code) = 0;

  // Ends the attempt in one transaction: attempt row, remaining pods ('stopped'), the chain
  // (final state, or a new queued attempt after a suspend unless the chain is stopped or
  // held) and task_events. Returns the state actually written (a suspend of a chain whose
  // stop was requested meanwhile becomes 'stopped'); FailedPrecondition if the attempt had
  // already ended.
  virtual absl::StatusOr<model::AttemptState> Finish(const AttemptOutcome& outcome) = 0;

  // The actor of the latest stop request ("" when unknown), for "stopped by <actor>".
  virtual std::string StopActor() = 0;

  // ---- Jupyter containers
  // Resources and the owner's token hash of a jupyter chain; NotFound without its row.
  virtual absl::StatusOr<JupyterPodInfo> LoadJupyter() = 0;
  // This attempt serves on `host`:`port` (not answering yet): earlier reports become stale.
  virtual absl::Status ReportJupyterAddress(const std::string& host, int port) = 0;
  // The server answered; `activity` is its last_activity when it gave one.
  virtual absl::Status ReportJupyterStatus(std::optional<absl::Time> activity) = 0;
};

}  // namespace hai::manager
