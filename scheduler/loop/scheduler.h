// The scheduling loop: the one thread that decides. Triggers (submit, task end, admin edit,
// periodic tick) coalesce into at most one pending pass. A pass brings haid's copy of the open
// attempts and admin tables up to date from Postgres (the source of truth), calls the pure
// policy core, and hands the result to the units that act on it, each behind a narrow
// interface with an in-memory fake in its unit test (test/unit/loop):
//   PlanApplier        applies the plan, one guarded write per decision (stale ones fail alone)
//   JupyterStep        the Jupyter containers' own pass
//   NodeHealth         nodes that keep losing ranks become unhealthy; their tasks are suspended
//   ManagerSupervisor  every attempt holding nodes has a live manager, or gets one
//   PublishedViews     pending reasons, queue, quota and nodes for the API and HTTP readers
// With leader election (Leadership, scheduler/election/) only the leader acts: a standby's
// pass loads and decides the same way but applies nothing, so its published views (pending
// reasons, queue positions) are those of the same state, and its memory is warm when it takes
// over. A leader's writes carry its epoch (store::EpochFence); the first one Postgres refuses
// for a later epoch ends the pass and makes this replica step down.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "scheduler/events/notifier.h"
#include "scheduler/launcher/manager_processes.h"
#include "scheduler/launcher/rank_reaper.h"
#include "scheduler/loop/attempt_timings.h"
#include "scheduler/loop/jupyter_step.h"
#include "scheduler/loop/leadership.h"
#include "scheduler/loop/live_snapshot.h"
#include "scheduler/loop/manager_supervisor.h"
#include "scheduler/loop/node_health.h"
#include "scheduler/loop/open_attempts.h"
#include "scheduler/loop/pass_trigger.h"
#include "scheduler/loop/plan_applier.h"
#include "scheduler/loop/published_views.h"
#include "scheduler/metrics.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/loop_store.h"

namespace hai {

class Scheduler final : public PassTrigger {
 public:
  Scheduler(store::LoopStore& store, const Config& config, ManagerProcesses& processes,
            Notifier& notifier, Metrics& metrics);
  ~Scheduler() override;

  // Runs `step` (not owned) in every pass after the training plan; set before Start().
  void SetJupyterStep(JupyterStep* step);
  // Acts only while `leadership` (not owned) says this replica leads, with its writes fenced
  // by the epoch; set before Start(). Without it the loop always acts, unfenced.
  void SetLeadership(Leadership* leadership);
  // Test hook (haid: env HAI_TEST_PAUSE_BEFORE_APPLY_MS): a leader pass that has starts to
  // apply waits this long between deciding and applying, so a test can pause the process
  // with a decision in flight and show its late write refused.
  void SetPauseBeforeApply(absl::Duration pause) { pause_before_apply_ = pause; }
  void Start();
  // No pass starts after this; the one in progress (if any) runs on. Does not wait.
  void RequestStop();
  // RequestStop, then waits for the pass in progress to end.
  void Stop();
  // Requests a pass soon; calls coalesce.
  void Wake() override;
  // A Postgres notification (scheduler/events/pg_listener.h): hai_admin means an admin table
  // changed (reloaded on the next pass); "<attempt>:deleted" on hai_attempts drops that
  // attempt from memory. Wakes the loop.
  void NoteChange(const std::string& channel, const std::string& payload);
  // One pass now, on the caller's thread. The loop thread calls it; so do unit tests, which
  // never Start() the thread.
  void RunPass();

  // What the last pass published (thread-safe).
  const PublishedViews& views() const { return views_; }

 private:
  void Run();
  bool WakeOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stopping_; }
  bool Stopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; }
  // Brings the in-memory state up to date with Postgres: open attempts by change tracking,
  // admin tables (hosts, quota, groups) when an admin edit was notified or kAdminRefresh
  // passed. False (and nothing decided this pass) when Postgres is unreachable.
  bool RefreshState(absl::Time now);
  bool ReloadAdminTables(absl::Time now);
  void Publish(policy::Plan& plan, policy::ResolvedQuota resolved, absl::Time start);
  // After a unit acted: when the store refused a write for a later epoch, steps down and
  // returns true (the pass ends there).
  bool Superseded(int64_t epoch, const char* during);

  store::LoopStore& store_;
  const Config& config_;
  ManagerProcesses& processes_;
  Notifier& notifier_;
  Metrics& metrics_;
  policy::PolicyConfig policy_config_;
  PlanApplier applier_;
  NodeHealth node_health_;
  // Ends the ranks of attempts failed for lost managers: the local runtime's process groups,
  // or (other runtimes) none, reporting their nodes to be cordoned.
  std::unique_ptr<RankReaper> reaper_;
  ManagerSupervisor supervisor_;
  AttemptTimings timings_;  // latency histograms of /metrics
  PublishedViews views_;
  JupyterStep* jupyter_ = nullptr;
  Leadership* leadership_ = nullptr;
  absl::Duration pause_before_apply_ = absl::ZeroDuration();
  int64_t last_epoch_ = 0;  // scheduler thread: the epoch of the previous pass (0: standby)

  mutable absl::Mutex mu_;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool admin_dirty_ ABSL_GUARDED_BY(mu_) = true;             // reload admin tables next pass
  std::set<int64_t> deleted_attempts_ ABSL_GUARDED_BY(mu_);  // reported deleted, to drop
  bool full_reload_ ABSL_GUARDED_BY(mu_) = false;            // next refresh is a full load
  int listener_connects_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;

  // Scheduler-thread only:
  OpenAttemptCache open_;
  LiveSnapshot snapshot_;  // the core's input, kept up to date from open_ and hosts_
  std::vector<store::HostRow> hosts_;
  std::vector<policy::QuotaRow> quota_rows_;
  std::map<std::string, std::vector<std::string>> user_groups_;
  absl::Time admin_loaded_at_ = absl::InfinitePast();
  absl::Time last_slow_pass_log_ = absl::InfinitePast();
  // Nodes the last plan held for preemptors, fed back into the next snapshot.
  PreemptionHolds preemption_holds_;
};

}  // namespace hai
