// Slurm node sync (manager.runtime = "slurm", docs/slurm.md): hai's hosts follow Slurm's
// nodes. Every slurm.node_sync_interval_ms haid reads `sinfo` and
//   - a node Slurm marks DRAIN (draining/drained) becomes `cordoned`, one Slurm marks DOWN
//     (down, failing, not responding) `unhealthy`, each with state_reason "slurm: <state>:
//     <Slurm's reason>", so nothing new is placed there;
//   - a node hai marked so itself (its reason starts with "slurm: ") becomes `ready` again
//     once Slurm has it back in service. An admin's own cordon/drain/offline is never touched.
//   - with slurm.import_group set, a Slurm node hai has no host for is added to that group
//     (as an admin's AddNode would: origin 'sql'; its GPU count from the node's GRES).
// Tasks running on a node that leaves service are not ended here: their managers see the node
// in the same sinfo output and report the rank lost, which requeues the attempt
// (manager/runtime/slurm/rank_state.h). PlanNodeSync is pure (test/unit/slurm/).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/model/states.h"
#include "common/slurm/slurm_cli.h"
#include "scheduler/policy/types.h"

namespace hai::slurm {

inline constexpr char kSyncReasonPrefix[] = "slurm: ";

struct HostView {
  std::string name;
  model::NodeState state = model::NodeState::kReady;
  std::string reason;
};

struct NodeChange {
  std::string node;
  model::NodeState state = model::NodeState::kReady;
  std::string reason;
};

struct SyncPlan {
  std::vector<NodeChange> changes;
  std::vector<policy::Node> imports;
};

SyncPlan PlanNodeSync(const std::vector<HostView>& hosts, const std::vector<NodeRow>& nodes,
                      const std::string& import_group);

// Where the sync reads and writes hai's hosts (haid: the Store).
class NodeSyncStore {
 public:
  virtual ~NodeSyncStore() = default;
  virtual absl::StatusOr<std::vector<HostView>> Hosts() = 0;
  virtual absl::Status SetState(const NodeChange& change) = 0;
  virtual absl::Status Import(const policy::Node& node) = 0;
};

// The sync's thread ("hai-slurm-sync"). `on_change` runs after a pass changed a host (haid
// wakes the loop so the next pass sees it).
class NodeSync {
 public:
  NodeSync(SlurmCli& cli, NodeSyncStore& store, std::string import_group,
           std::function<void()> on_change)
      : cli_(cli),
        store_(store),
        import_group_(std::move(import_group)),
        on_change_(std::move(on_change)) {}
  ~NodeSync() { Stop(); }

  // One pass; the number of hosts changed or imported.
  absl::StatusOr<int> SyncOnce();
  void Start(absl::Duration interval);
  void Stop();

 private:
  SlurmCli& cli_;
  NodeSyncStore& store_;
  const std::string import_group_;
  std::function<void()> on_change_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hai::slurm
