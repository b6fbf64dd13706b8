// AttemptLifecycle: the state machine of one attempt as its manager drives it.
//   claim -> start or adopt every rank -> supervise (heartbeat, poll ranks, read control
//   columns) -> terminate when the attempt must end -> one transaction that ends it.
// End rules: every rank exits 0 -> succeeded; a rank exits non-zero -> the others are
// terminated and the attempt fails with that rank's code (unless a suspension is already
// due: then it is suspended); a rank is lost (gone without an exit status) -> the others are
// terminated, suspended + requeued (the node's failure, not the task's); stop requested ->
// terminate, stopped; suspend requested -> wait for go_suspend or the suspend grace,
// terminate, suspended + requeued (stop wins over suspend; ranks that all exited 0 before
// the terminate win over both).
// Fencing: a store write refused as superseded (attempt_store.h: another manager claimed
// the attempt) makes the manager leave at once, touching no rank (no signal, no release, no
// further write): the successor adopts them. A rank is started only after its intent is on
// record (AttemptStore::PodStartIntended) and through the runtime's idempotent Start, so it
// is started at most once per attempt whenever a manager dies.
// Terminate = SIGTERM to every rank, SIGKILL after the kill grace, then wait until no process
// of any rank is left. A SIGTERM to the manager itself only makes it exit: the ranks keep
// running and the next manager adopts them.
//
// Seams: the lifecycle sees only interfaces (the AttemptStore, the PodRuntime, the Hints and
// a Clock), so test/unit/manager/lifecycle_test.cc drives every end with in-memory fakes and
// a fake clock; hai-manager (main.cc) wires Postgres, the chosen runtime, Redis and the wall
// clock. This library links no pqxx, gRPC or Redis.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "manager/attempt_store.h"
#include "manager/hints.h"
#include "manager/jupyter_pod.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::manager {

struct LifecycleOptions {
  std::string data_dir;     // absolute server.data_dir
  std::string control_url;  // HAI_CONTROL_URL
  std::string ca_file;      // HAI_CA_FILE
  absl::Duration heartbeat = absl::Seconds(2);
  absl::Duration suspend_grace = absl::Seconds(30);
  absl::Duration kill_grace = absl::Seconds(10);
  std::vector<std::string> manager_environ;  // source of PATH, HOME, ... for the ranks
  std::function<bool()> shutdown_requested;  // the manager got SIGTERM
  JupyterPodOptions jupyter;                 // how a Jupyter container runs on this runtime
  // Test hook: runs right after the runtime started a rank, before its id is recorded
  // anywhere by the manager (hai-manager sets it from HAI_TEST_MANAGER_EXIT_AFTER_START to
  // die there).
  std::function<void(int rank)> after_rank_start;
  // scheduler.max_self_requeues: how often a chain is requeued for ranks that ended
  // themselves (PodStatus::self_inflicted) before such an end fails it; 0 = never requeued.
  int max_self_requeues = 3;
};

// Paths of one attempt under data_dir. The log path is what haid's log streaming reads.
std::string AttemptLogDir(const std::string& data_dir, int64_t chain_id, int attempt_no);
std::string AttemptRunDir(const std::string& data_dir, int64_t attempt_id);

class AttemptLifecycle {
 public:
  AttemptLifecycle(int64_t attempt_id, AttemptStore& store, PodRuntime& runtime, Hints& hints,
                   Clock& clock, LifecycleOptions options)
      : attempt_id_(attempt_id),
        store_(store),
        runtime_(runtime),
        hints_(hints),
        clock_(clock),
        opt_(std::move(options)) {}

  // Runs the attempt to its end (or until this manager must leave); returns the process exit
  // code (0 unless the attempt could not be driven at all).
  int Run();

 private:
  struct Rank {
    bool tracked = false;   // known to the runtime (started or adopted)
    int64_t id = 0;         // the runtime's id of the rank (pods.pid)
    bool start_recorded = false;  // the pods row has the start (state and id)
    bool exited = false;    // the user command ended (or the rank was lost)
    bool lost = false;
    int exit_code = 0;
    std::string reason;     // the runtime's explanation of the exit or loss, if any
    bool self_inflicted = false;  // PodStatus::self_inflicted: the task ended itself
    bool waiting = false;   // pods row says 'starting': the command has not started yet
    bool gone = false;      // no process of the rank is left
    bool recorded = false;  // pods row written
    bool exited_before_terminate = false;
    std::string node;       // where the rank runs (a lost rank points at its node)
  };

  enum class Intent { kRecorded, kRankEnded, kLeave };

  absl::Status Prepare(const AttemptInfo& info, const std::string& token);
  // Records the intent to start `rank`, retrying while Postgres is unavailable. kLeave: the
  // claim was lost (superseded_) or the manager must shut down.
  Intent RecordIntent(int rank);
  // Whether `s` is the store's refusal of a superseded manager; remembers it in superseded_.
  bool Superseded(const absl::Status& s);
  // Leaves after losing the claim; the process exit code.
  int Leave();
  void PollRanks();
  // pods row 'starting'/'running' with the rank's id; a failure is retried by RecordPods.
  void RecordStart(int rank, Rank& r);
  void RecordPods();
  void BeginTerminate(AttemptOutcome outcome);
  // The outcome when every rank is gone; nullopt while still waiting.
  std::optional<AttemptOutcome> Decide(const ControlState& ctl);
  int Finish(AttemptOutcome outcome);
  void KillAllAndWait();

  int64_t attempt_id_;
  AttemptStore& store_;
  PodRuntime& runtime_;
  Hints& hints_;
  Clock& clock_;
  LifecycleOptions opt_;

  std::map<int, Rank> ranks_;
  std::map<int, PodSpec> specs_;
  std::optional<AttemptOutcome> terminating_;
  std::unique_ptr<JupyterPod> jupyter_;  // kind 'jupyter' only
  absl::Time kill_at_ = absl::InfiniteFuture();
  bool superseded_ = false;  // a write was refused: another manager owns the attempt
  int self_requeues_ = 0;    // chains.self_requeues at claim time
};

}  // namespace hai::manager
