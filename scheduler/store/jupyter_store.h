// haid's Postgres access for Jupyter dev containers (sql/migrations/0002_jupyter.sql). A
// container is a chain of kind 'jupyter' plus its jupyter_containers row; chain and attempt
// rows are read and written by the general Store, so `hai-cli list`, stop and the manager
// supervision treat containers like any task. This class adds what only containers have.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/model/states.h"
#include "scheduler/policy/jupyter.h"
#include "scheduler/store/pool.h"
#include "scheduler/store/rows.h"

namespace hai::store {

// One jupyter_containers row.
struct JupyterRow {
  int64_t chain_id = 0;
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  bool keep_alive = false;
  std::optional<int64_t> attempt_id;  // the attempt the manager's report is about
  std::optional<int> port;
  // Where the server listens (0004_jupyter_host.sql): 127.0.0.1 on the local runtime, the
  // Service's cluster IP on Kubernetes; "" = not recorded (older rows): loopback.
  std::string host;
  std::optional<absl::Time> ready_at;
  std::optional<absl::Time> server_activity_at;
  absl::Time api_activity_at;
  std::optional<absl::Time> culled_at;
  std::string cull_reason;
  // Joined for convenience:
  std::string user;
  std::string group;
  std::string role;  // users.role of the owner (per-role idle timeouts)
};

// An open container with its open attempt, as the scheduling pass needs it.
struct OpenJupyter {
  JupyterRow row;
  int64_t attempt_id = 0;
  model::AttemptState state = model::AttemptState::kQueued;  // an open state
  absl::Time first_submit;
  std::optional<absl::Time> started_at;
  bool hold = false;
  bool stop_requested = false;
  bool stop_or_suspend_requested = false;  // on the attempt
  std::string node;                        // rank 0's pod, when placed
  std::vector<int> gpus;
};

// A container as the API shows it.
struct JupyterChain {
  Chain chain;
  JupyterRow jupyter;
};

class JupyterStore {
 public:
  explicit JupyterStore(ConnectionPool& pool) : pool_(pool) {}

  // In one transaction, holding a per-user advisory lock so two concurrent creates cannot
  // both pass the quota: reads the user's open containers, asks `admit` (the quota check),
  // then inserts the chain (kind jupyter, one node), its queued attempt and the
  // jupyter_containers row. AlreadyExists when the user has an open task of that name.
  absl::StatusOr<int64_t> Create(
      const NewChain& chain, const JupyterRow& resources,
      const std::function<absl::Status(const std::vector<policy::JupyterContainer>&)>& admit);

  // Every open container with its open attempt and placement (the scheduling pass).
  absl::StatusOr<std::vector<OpenJupyter>> LoadOpenContainers();
  // jupyter_containers rows of open chains, by chain id.
  absl::StatusOr<std::map<int64_t, JupyterRow>> LoadOpen();
  // Rows of these chains (finished ones too), by chain id.
  absl::StatusOr<std::map<int64_t, JupyterRow>> LoadRows(const std::vector<int64_t>& chain_ids);

  // Records a JupyterService request about the container (it counts as activity).
  absl::Status TouchApi(int64_t chain_id);
  // Makes `access_token_hash` the container's access token, derived from the owner's API
  // token hashing to `owner_token_hash` (a no-op when it already is; a different one replaces
  // it, so a URL from before a rotation stops working).
  absl::Status SetAccessToken(int64_t chain_id, const std::string& access_token_hash,
                              const std::string& owner_token_hash);
  // Marks the container culled (before its stop is requested) with a task_events row.
  absl::Status MarkCulled(int64_t chain_id, int64_t attempt_id, const std::string& reason);

 private:
  ConnectionPool& pool_;
};

}  // namespace hai::store
