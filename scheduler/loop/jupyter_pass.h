// The Jupyter part of a scheduling pass (docs/jupyter.md), run on the scheduler thread right
// after the training plan is applied. Containers never enter the training snapshot (they
// live on jupyter groups, which training never uses, and are never preempted), so this pass
// decides them alone: it loads the open containers, places the queued ones with the pure
// policy::PlaceJupyter, applies each start as the same guarded queued -> scheduled write the
// training plan uses and launches its manager, then stops running containers that have been
// idle past their role's timeout (recorded as culled first). It publishes why each waiting
// container waits, under a mutex, for JupyterService.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "scheduler/events/notifier.h"
#include "scheduler/launcher/manager_processes.h"
#include "scheduler/loop/jupyter_step.h"
#include "scheduler/policy/jupyter.h"
#include "scheduler/store/jupyter_store.h"
#include "scheduler/store/store.h"

namespace hai {

// The idle timeout of a container's owner role (0 = never), from the jupyter config.
absl::Duration JupyterIdleTimeout(const JupyterConfig& config, const std::string& role);

class JupyterPass final : public JupyterStep {
 public:
  JupyterPass(store::Store& store, const Config& config, ManagerProcesses& launcher,
              Notifier& notifier);

  // One pass over the containers; `hosts` is the pass's view of the hosts table.
  void Run(const std::vector<store::HostRow>& hosts, absl::Time now) override;

  std::optional<JupyterPendingView> PendingFor(int64_t chain_id) const override;

 private:
  store::Store& store_;
  store::JupyterStore jupyter_store_;
  const Config& config_;
  ManagerProcesses& launcher_;
  Notifier& notifier_;
  policy::JupyterPlacementConfig placement_;

  mutable absl::Mutex mu_;
  std::map<int64_t, JupyterPendingView> pending_ ABSL_GUARDED_BY(mu_);  // by chain id
};

}  // namespace hai
