// In-memory stand-ins for what the scheduling loop talks to: the store (a few maps that keep
// Postgres's guard rules: a write that expects a state the attempt is not in fails with
// FailedPrecondition), the notifier and the manager processes. Each records the calls it got
// so a test can say exactly what the loop did.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "scheduler/events/notifier.h"
#include "scheduler/launcher/manager_processes.h"
#include "scheduler/launcher/rank_reaper.h"
#include "scheduler/store/leader_fence.h"
#include "scheduler/store/loop_store.h"

namespace hai::testing {

struct SuspendCall {
  int64_t attempt_id = 0;
  int64_t preemptor_chain = 0;
  std::string reason;
  std::string actor;
};

class FakeLoopStore final : public store::LoopStore {
 public:
  // ---- the "tables"
  std::map<int64_t, store::OpenAttempt> open;  // by attempt id; edit through Put/Close
  std::vector<store::HostRow> hosts;
  std::vector<policy::QuotaRow> quota_rows;
  std::map<std::string, std::vector<std::string>> user_groups;
  // Heartbeats as Postgres has them (not change-tracked: only LoadManagerLiveness reads them);
  // attempts without an entry report their row's manager fields. `silence` is computed.
  std::map<int64_t, store::ManagerLiveness> liveness;
  absl::Time started_at = absl::InfinitePast();  // "Postgres" started (caps silence)
  std::map<std::string, std::string> cordoned;   // node -> reason
  // What MarkUnhealthyNodes reports next (then cleared).
  std::map<std::string, std::vector<int64_t>> unhealthy_next;
  // ---- fault injection
  bool unreachable = false;  // every call fails with Unavailable
  std::set<int64_t> stale;   // writes on these attempts fail as stale
  // ---- what the loop did
  std::vector<int64_t> scheduled;
  std::vector<SuspendCall> suspends;
  std::vector<std::pair<int64_t, std::string>> failed;  // attempt, reason
  std::vector<std::pair<int64_t, int>> tiers_set;       // attempt, new tier
  std::vector<int64_t> stops;                           // chains
  std::vector<std::string> writes;  // "schedule 1", "suspend 2", "tier 3", in order
  int mark_unhealthy_calls = 0;
  int host_loads = 0;
  std::vector<int64_t> last_recheck;
  absl::Time now = absl::FromUnixSeconds(1800000000);
  // The leader_lease row's epoch; a fenced write under another epoch is refused.
  int64_t lease_epoch = 1;
  int refused_writes = 0;

  // Writes an attempt as another writer (a submit, a manager) would: a change to be read.
  void Put(store::OpenAttempt o) {
    const int64_t id = o.attempt.attempt_id;
    open[id] = std::move(o);
    Touch(id);
  }
  void Close(int64_t attempt_id) {
    open.erase(attempt_id);
    Touch(attempt_id);
  }

  absl::StatusOr<store::OpenAttemptChanges> LoadOpenAttemptChanges(
      uint64_t since, const std::vector<int64_t>& recheck) override {
    if (unreachable) return Down();
    last_recheck = recheck;
    store::OpenAttemptChanges c;
    c.full = since == 0;
    c.next_since = version_ + 1;
    std::set<int64_t> ids(recheck.begin(), recheck.end());
    for (const auto& [id, v] : written_) {
      if (c.full || v >= since) ids.insert(id);
    }
    if (c.full) {
      for (const auto& [id, o] : open) ids.insert(id);
    }
    for (int64_t id : ids) {
      auto it = open.find(id);
      if (it != open.end()) {
        c.open[id] = it->second;
      } else if (!c.full) {
        c.closed.push_back(id);
      }
    }
    return c;
  }
  absl::StatusOr<std::vector<store::HostRow>> LoadHosts() override {
    if (unreachable) return Down();
    ++host_loads;
    return hosts;
  }
  absl::StatusOr<std::vector<policy::QuotaRow>> LoadQuotaRows() override {
    if (unreachable) return Down();
    return quota_rows;
  }
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> LoadUserGroups() override {
    if (unreachable) return Down();
    return user_groups;
  }

  absl::Status ScheduleAttempt(int64_t attempt_id, int tier,
                               const std::vector<policy::RankPlacement>& placement) override {
    if (absl::Status f = Fence(); !f.ok()) return f;
    store::OpenAttempt* o = Writable(attempt_id);
    if (o == nullptr || o->attempt.state != model::AttemptState::kQueued) {
      return absl::FailedPreconditionError(absl::StrCat("attempt ", attempt_id, " not queued"));
    }
    o->attempt.state = model::AttemptState::kScheduled;
    o->attempt.tier = tier;
    o->attempt.scheduled_at = now;
    o->attempt.pods.clear();
    for (size_t r = 0; r < placement.size(); ++r) {
      store::PodRow pod;
      pod.rank = static_cast<int>(r);
      pod.node = placement[r].node;
      pod.gpus = placement[r].gpus;
      o->attempt.pods.push_back(pod);
    }
    scheduled.push_back(attempt_id);
    writes.push_back(absl::StrCat("schedule ", attempt_id));
    Touch(attempt_id);
    return absl::OkStatus();
  }
  absl::Status RequestSuspend(int64_t attempt_id, int64_t preemptor_chain_id,
                              const std::string& reason, const std::string& actor) override {
    if (absl::Status f = Fence(); !f.ok()) return f;
    store::OpenAttempt* o = Writable(attempt_id);
    if (o == nullptr || !model::HoldsNodes(o->attempt.state)) {
      return absl::FailedPreconditionError(absl::StrCat("attempt ", attempt_id, " not running"));
    }
    if (!o->attempt.suspend_requested_at.has_value()) o->attempt.suspend_requested_at = now;
    o->attempt.suspend_reason = reason;
    suspends.push_back({attempt_id, preemptor_chain_id, reason, actor});
    writes.push_back(absl::StrCat("suspend ", attempt_id));
    Touch(attempt_id);
    return absl::OkStatus();
  }
  absl::Status SetAttemptTier(int64_t attempt_id, int from_tier, int to_tier,
                              const std::string&) override {
    if (absl::Status f = Fence(); !f.ok()) return f;
    store::OpenAttempt* o = Writable(attempt_id);
    if (o == nullptr || o->attempt.tier != from_tier) {
      return absl::FailedPreconditionError(absl::StrCat("attempt ", attempt_id, " tier moved"));
    }
    o->attempt.tier = to_tier;
    tiers_set.emplace_back(attempt_id, to_tier);
    writes.push_back(absl::StrCat("tier ", attempt_id));
    Touch(attempt_id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::map<int64_t, store::ManagerLiveness>> LoadManagerLiveness(
      const std::vector<int64_t>& attempt_ids) override {
    if (unreachable) return Down();
    std::map<int64_t, store::ManagerLiveness> out;
    for (int64_t id : attempt_ids) {
      auto row = open.find(id);
      if (row == open.end()) continue;
      store::ManagerLiveness l;
      if (auto it = liveness.find(id); it != liveness.end()) {
        l = it->second;
      } else {  // what the attempts row says
        l.pid = row->second.attempt.manager_pid;
        l.host = row->second.attempt.manager_host;
        l.heartbeat_at = row->second.attempt.manager_heartbeat_at;
      }
      // Silence by "Postgres'" clock (`now`), at most its uptime, as the SQL computes it.
      const absl::Duration up = now - started_at;
      l.silence = std::max(absl::ZeroDuration(),
                           l.heartbeat_at.has_value() ? std::min(now - *l.heartbeat_at, up) : up);
      out[id] = l;
    }
    return out;
  }
  absl::Status FailAttempt(int64_t attempt_id, const std::string& reason,
                           const std::vector<std::string>& cordon,
                           const std::string& cordon_reason) override {
    if (absl::Status f = Fence(); !f.ok()) return f;
    if (Writable(attempt_id) == nullptr) return absl::FailedPreconditionError("not open");
    failed.emplace_back(attempt_id, reason);
    for (const std::string& n : cordon) cordoned[n] = cordon_reason;
    writes.push_back(absl::StrCat("fail ", attempt_id));
    Close(attempt_id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::map<std::string, std::vector<int64_t>>> MarkUnhealthyNodes(int) override {
    if (unreachable) return Down();
    if (absl::Status f = Fence(); !f.ok()) return f;
    ++mark_unhealthy_calls;
    return std::exchange(unhealthy_next, {});
  }
  absl::StatusOr<store::StopOutcome> RequestStop(int64_t chain_id, const std::string&) override {
    if (unreachable) return Down();
    stops.push_back(chain_id);
    return store::StopOutcome::kStopRequested;
  }

  void FenceWrites(int64_t epoch) override {
    fence_ = epoch;
    superseded_by_ = 0;
  }
  int64_t SupersededBy() const override { return superseded_by_; }
  absl::Status VerifyEpoch() override {
    if (unreachable) return Down();
    return Fence();
  }
  int64_t fenced_epoch() const { return fence_; }

 private:
  // The leader check of a fenced write, as Store::CheckFence makes it.
  absl::Status Fence() {
    if (fence_ == store::kUnfenced) return absl::OkStatus();
    if (fence_ != 0 && fence_ == lease_epoch && superseded_by_ == 0) return absl::OkStatus();
    ++refused_writes;
    superseded_by_ = lease_epoch;
    return store::LeaderSupersededError(fence_, lease_epoch);
  }
  static absl::Status Down() { return absl::UnavailableError("postgres is down"); }
  // The attempt a guarded write may touch; null when it is gone, stale or Postgres is down.
  store::OpenAttempt* Writable(int64_t attempt_id) {
    if (unreachable || stale.count(attempt_id) > 0) return nullptr;
    auto it = open.find(attempt_id);
    return it == open.end() ? nullptr : &it->second;
  }
  void Touch(int64_t attempt_id) { written_[attempt_id] = ++version_; }

  int64_t fence_ = store::kUnfenced;
  int64_t superseded_by_ = 0;
  uint64_t version_ = 0;
  std::map<int64_t, uint64_t> written_;  // attempt -> version of its last write
};

class FakeNotifier final : public Notifier {
 public:
  void NotifyManager(int64_t attempt_id, const std::string& command) override {
    told.emplace_back(attempt_id, command);
  }
  std::vector<std::pair<int64_t, std::string>> told;
};

class FakeProcesses final : public ManagerProcesses {
 public:
  absl::StatusOr<pid_t> Launch(int64_t attempt_id) override {
    if (launch_fails) return absl::InternalError("cannot spawn");
    launched.push_back(attempt_id);
    const pid_t pid = next_pid++;
    children[attempt_id] = pid;
    alive.insert(pid);
    return pid;
  }
  bool HasLiveChild(int64_t attempt_id) const override { return children.count(attempt_id) > 0; }
  std::vector<ManagerExit> Reap() override { return std::exchange(exits, {}); }
  // A pid in `alive` is the manager it is recorded as unless listed in `other` (some other
  // process has that pid now) or `unreadable` (/proc cannot tell).
  ManagerMatch Identify(const RecordedManager& m) const override {
    if (unreadable.count(m.pid) > 0) return ManagerMatch::kCannotTell;
    if (alive.count(m.pid) == 0 || other.count(m.pid) > 0) return ManagerMatch::kNotIt;
    return ManagerMatch::kIsIt;
  }
  bool Kill(const RecordedManager& m) override {
    if (Identify(m) != ManagerMatch::kIsIt) return Identify(m) == ManagerMatch::kNotIt;
    if (unkillable.count(m.pid) > 0) return false;
    killed.push_back(m.pid);
    alive.erase(m.pid);
    return true;
  }
  // A child of this haid dies (reaped on the next pass).
  void ChildDies(int64_t attempt_id) {
    auto it = children.find(attempt_id);
    if (it == children.end()) return;
    alive.erase(it->second);
    exits.push_back({attempt_id, it->second, 137});
    children.erase(it);
  }

  bool launch_fails = false;
  pid_t next_pid = 5000;
  std::map<int64_t, pid_t> children;  // attempt -> pid of our live child
  std::set<pid_t> alive;              // every process that exists
  std::set<pid_t> other;              // of those, not a manager (the pid was reused)
  std::set<pid_t> unreadable;         // /proc cannot be read for these
  std::set<pid_t> unkillable;         // kill fails (EPERM)
  std::vector<int64_t> launched;
  std::vector<pid_t> killed;
  std::vector<ManagerExit> exits;
};

// Ends ranks in memory: records each call; ranks on `stuck_nodes` cannot be confirmed gone.
class FakeRankReaper final : public RankReaper {
 public:
  RanksEnded EndRanks(const AttemptRanks& a) override {
    calls.push_back(a);
    RanksEnded out;
    for (const RankRecord& r : a.ranks) {
      if (stuck_nodes.count(r.node) > 0) out.unconfirmed_nodes.insert(r.node);
    }
    if (!out.unconfirmed_nodes.empty()) out.reason = "stuck";
    return out;
  }
  std::set<std::string> stuck_nodes;
  std::vector<AttemptRanks> calls;
};

}  // namespace hai::testing
