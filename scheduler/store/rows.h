// Row types haid reads from and writes to Postgres (sql/migrations/0001_init.sql). Plain data;
// the gRPC layer converts them to hai.v1 messages and the loop to policy snapshots.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/model/states.h"
#include "scheduler/policy/types.h"

namespace hai::store {

struct User {
  int64_t uid = 0;
  std::string name;
  std::string role;  // admin|internal|external
  bool active = true;
  std::vector<std::string> groups;
  bool admin() const { return role == "admin"; }
};

struct PodRow {
  int rank = 0;
  std::string node;
  std::vector<int> gpus;
  model::PodState state = model::PodState::kCreated;
  std::optional<int> exit_code;
  std::optional<int64_t> pid;
};

struct AttemptRow {
  int64_t attempt_id = 0;
  int64_t chain_id = 0;
  int attempt_no = 0;
  model::AttemptState state = model::AttemptState::kQueued;
  int tier = 0;
  absl::Time queued_at;
  std::optional<absl::Time> scheduled_at, started_at, ended_at;
  std::string end_reason;
  std::optional<int> exit_code;
  std::optional<int> manager_pid;
  std::string manager_host;
  std::optional<absl::Time> manager_heartbeat_at;
  std::optional<absl::Time> suspend_requested_at;
  std::string suspend_reason;
  std::optional<absl::Time> go_suspend_at;
  std::optional<absl::Time> stop_requested_at;
  std::vector<PodRow> pods;
};

struct ChainRow {
  int64_t chain_id = 0;
  std::string name;
  std::string user;
  model::TaskKind kind = model::TaskKind::kPython;
  std::string group;
  int priority = 0;  // requested; -1 = AUTO
  int nodes = 1;
  int gpus_per_node = 0;
  std::string entrypoint;
  std::vector<std::string> args;
  std::string workdir;
  std::map<std::string, std::string> env;
  std::string image;
  std::string environment;
  int64_t time_limit_s = 0;  // user's estimate of one attempt's run time; 0 = none
  absl::Time first_submit_at;
  int whole_life_state = 0;
  std::optional<model::ChainState> final_state;  // succeeded|failed|stopped once finished
  std::optional<int> exit_code;
  bool stop_requested = false;
  bool hold = false;
  std::optional<absl::Time> finished_at;
};

// A chain with its attempts, oldest first (the last one is the current attempt).
struct Chain {
  ChainRow row;
  std::vector<AttemptRow> attempts;
  const AttemptRow* current() const { return attempts.empty() ? nullptr : &attempts.back(); }
  // The chain as users see it (chain_state.cc).
  model::ChainState State() const;
};

struct NewChain {
  std::string name;
  std::string user;
  model::TaskKind kind = model::TaskKind::kPython;
  std::string group;
  int priority = 10;
  int nodes = 1;
  int gpus_per_node = 0;
  std::string entrypoint;
  std::vector<std::string> args;
  std::string workdir;
  std::map<std::string, std::string> env;
  std::string image;
  std::string environment;
  int whole_life_state = 0;
  int64_t time_limit_s = 0;  // 0 = none
};

// One open attempt with what the scheduler needs of its chain.
struct OpenAttempt {
  AttemptRow attempt;
  ChainRow chain;
};

struct HostRow {
  policy::Node node;
  std::string state_reason;
};

// What changed among open attempts since an earlier read (LoadOpenAttemptChanges).
struct OpenAttemptChanges {
  bool full = false;  // `open` is every open attempt: replace, don't merge
  // Attempts written since that are still open (chain, pods), by attempt id. A map, so a
  // full load becomes haid's copy without a second copy of 100,000 entries.
  std::map<int64_t, OpenAttempt> open;
  std::vector<int64_t> closed;  // attempts written since that are no longer open or gone
  uint64_t next_since = 0;      // watermark for the next call: xmin of this read's snapshot
};

// A manager's liveness as recorded by the manager itself.
struct ManagerLiveness {
  std::optional<int> pid;
  std::string host;
  std::optional<int64_t> start_time;  // manager_start_time: /proc/<pid>/stat field 22
  std::optional<absl::Time> heartbeat_at;
  // How long Postgres has heard nothing from the manager, by Postgres' clock (computed in
  // SQL, never against haid's): now() - manager_heartbeat_at, but at most the time since
  // Postgres started, so a Postgres outage does not count as the managers' silence.
  absl::Duration silence = absl::ZeroDuration();
};

// Outcome of a user's stop request.
enum class StopOutcome {
  kStoppedNow,     // nothing was running: the chain is now stopped
  kStopRequested,  // a manager will terminate the pods
  kAlreadyOver,    // the chain had already finished
};

}  // namespace hai::store
