// The scheduling loop: the one thread that decides. Triggers (submit, task end, admin edit,
// periodic tick) coalesce into at most one pending pass. A pass loads the open attempts and
// admin tables from Postgres (the source of truth), calls the pure policy core, and applies the
// plan with one guarded transaction per decision, so a stale decision fails alone. Then it
// supervises managers: starts missing ones, notices dead ones, relaunches them to adopt their
// pods, and gives up on an attempt after repeated manager loss.
// The latest pending reasons and quota view are published under a mutex for the API.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/config.h"
#include "scheduler/events/notifier.h"
#include "scheduler/launcher/launcher.h"
#include "scheduler/metrics.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/store.h"

namespace hai {

// Why a chain is waiting, as of the last pass.
struct PendingView {
  int64_t chain_id = 0;
  std::string name;
  std::string user;
  std::string group;
  int nodes = 0;
  int tier = 0;
  int position = 0;
  std::string reason;  // PendingReasonName
  std::string detail;
};

// Quota and use as of the last pass (for WhoAmI and admin checks).
struct QuotaView {
  std::map<policy::QuotaKey, int64_t> quota;
  std::map<policy::QuotaKey, int64_t> used_nodes;
  std::vector<policy::QuotaRow> rows;
  std::map<std::string, std::vector<std::string>> user_groups;
  std::vector<policy::QuotaProblem> problems;
};

class JupyterPass;

class Scheduler {
 public:
  Scheduler(store::Store& store, const Config& config, Launcher& launcher, Notifier& notifier,
            Metrics& metrics);
  ~Scheduler();

  void Start();
  void Stop();
  // Requests a pass soon; calls coalesce.
  void Wake();
  // Runs `pass` (not owned) in every pass after the training plan; set before Start().
  void SetJupyterPass(JupyterPass* pass) { jupyter_ = pass; }

  std::optional<PendingView> PendingFor(int64_t chain_id) const;
  std::vector<PendingView> Queue() const;  // tier desc, then position
  QuotaView Quota() const;
  // Time of the last completed pass (InfinitePast before the first).
  absl::Time LastPassAt() const;

 private:
  void Run();
  void Pass();
  void ApplyPlan(const policy::Plan& plan, const std::vector<store::OpenAttempt>& open);
  // Suspends tasks over a lowered quota (scheduler.suspend_over_quota).
  void ApplyOverQuota(const std::vector<policy::SuspendDecision>& suspends);
  // Marks nodes that keep losing ranks unhealthy and requeues their tasks.
  void CheckNodeHealth();
  void SuperviseManagers(const std::vector<store::OpenAttempt>& open, absl::Time now);
  void StartManager(int64_t attempt_id);

  store::Store& store_;
  const Config& config_;
  Launcher& launcher_;
  Notifier& notifier_;
  Metrics& metrics_;
  policy::PolicyConfig policy_config_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;      // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::map<int64_t, PendingView> pending_;  // guarded by mu_, by chain id
  QuotaView quota_view_;                    // guarded by mu_
  absl::Time last_pass_ = absl::InfinitePast();  // guarded by mu_
  std::thread thread_;
  JupyterPass* jupyter_ = nullptr;

  // Scheduler-thread only:
  std::map<int64_t, int> manager_restarts_;  // attempt -> relaunches so far
  // Nodes the last plan held for preemptors (attempt -> nodes); fed back into the next
  // snapshot so the nodes their victims free go to them, not to whoever comes first.
  std::map<int64_t, std::vector<std::string>> preemption_holds_;
};

}  // namespace hai
