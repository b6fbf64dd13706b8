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
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "scheduler/events/notifier.h"
#include "scheduler/launcher/launcher.h"
#include "scheduler/loop/live_snapshot.h"
#include "scheduler/loop/manager_liveness.h"
#include "scheduler/loop/open_attempts.h"
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

// Every chain waiting after a pass, published for the API. Built without a string per task
// (a pass over 100,000 waiting tasks must not allocate, and the next one free, 100,000 of
// them): entries are plain data, the chains' names, users and groups go into one text
// buffer, and a detail line is written from the plan's facts only when a view is asked for.
class PendingTable {
 public:
  void Reserve(size_t n);
  // `task` is the waiting task, `name` its chain's name.
  void Add(policy::Pending pending, const policy::Task& task, std::string_view name);
  std::optional<PendingView> Find(int64_t chain_id) const;
  std::vector<PendingView> All() const;  // in no particular order
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    int64_t chain_id = 0;
    int nodes = 0;
    int tier = 0;
    uint32_t text = 0;  // offset of name, user, group in text_
    uint32_t name_len = 0, user_len = 0, group_len = 0;
    policy::Pending pending;
  };
  PendingView View(const Entry& e) const;

  const absl::flat_hash_map<int64_t, uint32_t>& ByChain() const;

  std::vector<Entry> entries_;
  std::string text_;
  // Chain id -> index into entries_, built on the first lookup: most passes' tables are
  // replaced before anyone asks.
  mutable absl::once_flag by_chain_once_;
  mutable absl::flat_hash_map<int64_t, uint32_t> by_chain_;
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
  // A Postgres notification (scheduler/events/pg_listener.h): hai_admin means an admin table
  // changed (reloaded on the next pass); "<attempt>:deleted" on hai_attempts drops that
  // attempt from memory. Wakes the loop.
  void NoteChange(const std::string& channel, const std::string& payload);

  std::optional<PendingView> PendingFor(int64_t chain_id) const;
  std::vector<PendingView> Queue() const;  // tier desc, then position
  QuotaView Quota() const;
  // The same view without a copy (submit reads it on every call).
  std::shared_ptr<const QuotaView> QuotaShared() const;
  // Nodes as of the last pass (null before the first), for submit validation.
  std::shared_ptr<const std::vector<policy::Node>> Nodes() const;
  // Time of the last completed pass (InfinitePast before the first).
  absl::Time LastPassAt() const;

 private:
  void Run();
  void Pass();
  // Brings the in-memory state up to date with Postgres: open attempts by change tracking,
  // admin tables (hosts, quota, groups) when an admin edit was notified or kAdminRefresh
  // passed. False (and nothing decided this pass) when Postgres is unreachable.
  bool RefreshState(absl::Time now);
  void ApplyPlan(const policy::Plan& plan, const OpenAttemptMap& open);
  // Marks nodes that keep losing ranks unhealthy and requeues their tasks.
  void CheckNodeHealth();
  void SuperviseManagers(absl::Time now);
  // Of a node-holding attempt, in memory: not our live child, and no live pid or no
  // heartbeat within manager_timeout.
  bool ManagerLooksLost(const store::AttemptRow& a, absl::Time now) const;
  ManagerVerdict Judge(const store::AttemptRow& a, absl::Time now) const;
  // Counts a decision Postgres rejected and re-reads the attempt next pass.
  void StaleDecision(int64_t attempt_id);
  // Re-reads pid and heartbeat of attempts whose manager looks lost in memory (heartbeats
  // are not change-tracked), so only a manager Postgres also finds silent is replaced.
  void RefreshManagerLiveness(absl::Time now);
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
  std::shared_ptr<const PendingTable> pending_ =
      std::make_shared<PendingTable>();                                          // guarded by mu_
  std::shared_ptr<const QuotaView> quota_view_ = std::make_shared<QuotaView>();  // guarded by mu_
  absl::Time last_pass_ = absl::InfinitePast();                                  // guarded by mu_
  std::shared_ptr<const std::vector<policy::Node>> nodes_;                       // guarded by mu_
  bool admin_dirty_ = true;             // guarded by mu_: reload admin tables next pass
  std::set<int64_t> deleted_attempts_;  // guarded by mu_: reported deleted, to drop
  bool full_reload_ = false;            // guarded by mu_: next refresh is a full load
  int listener_connects_ = 0;           // guarded by mu_
  std::thread thread_;
  JupyterPass* jupyter_ = nullptr;

  // Scheduler-thread only:
  OpenAttemptCache open_;
  LiveSnapshot snapshot_;  // the core's input, kept up to date from open_ and hosts_
  std::vector<store::HostRow> hosts_;
  std::vector<policy::QuotaRow> quota_rows_;
  std::map<std::string, std::vector<std::string>> user_groups_;
  absl::Time admin_loaded_at_ = absl::InfinitePast();
  absl::Time last_slow_pass_log_ = absl::InfinitePast();
  std::map<int64_t, int> manager_restarts_;  // attempt -> relaunches so far
  // Nodes the last plan held for preemptors (attempt -> nodes); fed back into the next
  // snapshot so the nodes their victims free go to them, not to whoever comes first.
  std::map<int64_t, std::vector<std::string>> preemption_holds_;
};

}  // namespace hai
