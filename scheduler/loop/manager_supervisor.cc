#include "scheduler/loop/manager_supervisor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/model/states.h"

namespace hai {

void ManagerSupervisor::StartManager(int64_t attempt_id) {
  auto pid = processes_.Launch(attempt_id);
  if (!pid.ok()) {
    HAI_LOG(ERROR) << "attempt " << attempt_id << ": " << pid.status();
    return;
  }
  ++metrics_.managers_launched;
  HAI_LOG(INFO) << "attempt " << attempt_id << ": manager pid " << *pid;
}

int ManagerSupervisor::RestartsOf(int64_t attempt_id) const {
  auto it = restarts_.find(attempt_id);
  return it == restarts_.end() ? 0 : it->second;
}

bool ManagerSupervisor::Due(int64_t attempt_id, absl::Time now) const {
  auto it = recheck_at_.find(attempt_id);
  return it == recheck_at_.end() || it->second <= now;
}

void ManagerSupervisor::Supervise(OpenAttemptCache& open, absl::Time now) {
  // Called after a successful read of Postgres.
  if (!store_ok_since_.has_value()) store_ok_since_ = now;
  std::vector<int64_t> due;
  for (int64_t id : open.holding()) {
    if (processes_.HasLiveChild(id)) {
      not_alive_.erase(id);
      recheck_at_.erase(id);  // read it as soon as our child is gone
    } else if (Due(id, now)) {
      due.push_back(id);
    }
  }
  if (!due.empty()) {
    auto live = store_.LoadManagerLiveness(due);
    if (!live.ok()) {
      HAI_LOG(WARNING) << "manager liveness: " << live.status();
      store_ok_since_.reset();
      return;
    }
    const bool silence_counts = now - *store_ok_since_ >= opt_.manager_timeout;
    for (int64_t id : due) {
      store::OpenAttempt* o = open.Find(id);
      auto it = live->find(id);
      if (o == nullptr || it == live->end()) continue;  // ended meanwhile
      const store::ManagerLiveness& l = it->second;
      o->attempt.manager_pid = l.pid;
      o->attempt.manager_heartbeat_at = l.heartbeat_at;
      o->attempt.manager_host = l.host;
      SuperviseOne(*o, l, silence_counts, now);
    }
  }
  ForgetEnded(open);
}

void ManagerSupervisor::SuperviseOne(const store::OpenAttempt& o, const store::ManagerLiveness& l,
                                     bool silence_counts, absl::Time now) {
  const store::AttemptRow& a = o.attempt;
  recheck_at_.erase(a.attempt_id);  // re-read next pass unless found alive below
  bool alive = false;
  if (l.pid.has_value()) {
    const ManagerVerdict verdict =
        JudgeManager(l, a.attempt_id,
                     {.timeout = opt_.manager_timeout,
                      .silence_counts = silence_counts,
                      .this_host = opt_.this_host},
                     [this](const RecordedManager& m) { return processes_.Identify(m); });
    if (verdict == ManagerVerdict::kAlive) {
      not_alive_.erase(a.attempt_id);
      // Not silent for long enough yet: look again when it could be. Re-read each pass
      // while silence does not count or the process could not be identified.
      if (silence_counts && l.silence < opt_.manager_timeout) {
        recheck_at_[a.attempt_id] = now + (opt_.manager_timeout - l.silence);
      }
      return;
    }
    if (verdict == ManagerVerdict::kHung) {
      // Alive on this host but silent past the timeout: replace it, once it is gone. A
      // manager we could not kill may still drive the attempt: no second one beside it.
      HAI_LOG(WARNING) << "attempt " << a.attempt_id << ": manager " << *l.pid << " silent for "
                       << absl::FormatDuration(l.silence) << "; killing it";
      if (!processes_.Kill(RecordedOf(l, a.attempt_id))) return;
    }
  } else if (auto it = launched_at_.find(a.attempt_id);
             it != launched_at_.end() && now - it->second < opt_.start_timeout) {
    alive = true;  // relaunched recently, not registered yet
  }
  if (alive) return;
  not_alive_.insert(a.attempt_id);
  int& restarts = restarts_[a.attempt_id];
  if (l.pid.has_value()) ++metrics_.managers_lost;
  if (restarts >= opt_.max_restarts) {
    Fail(o, l, restarts);
    return;
  }
  ++restarts;
  HAI_LOG(WARNING) << "attempt " << a.attempt_id << " (" << model::Name(a.state)
                   << ") has no live manager; starting one to adopt its pods";
  launched_at_[a.attempt_id] = now;
  StartManager(a.attempt_id);
}

void ManagerSupervisor::Fail(const store::OpenAttempt& o, const store::ManagerLiveness& l,
                             int restarts) {
  const store::AttemptRow& a = o.attempt;
  HAI_LOG(ERROR) << "attempt " << a.attempt_id << ": manager lost " << restarts
                 << " times; ending its ranks and failing the attempt";
  // No manager is left to end the ranks: they must be gone before the GPUs are free.
  AttemptRanks ranks{.attempt_id = a.attempt_id, .manager_host = l.host};
  for (const store::PodRow& p : a.pods) {
    ranks.ranks.push_back({.rank = p.rank, .node = p.node, .runtime_id = p.pid});
  }
  RanksEnded ended = reaper_.EndRanks(ranks);
  const std::vector<std::string> cordon(ended.unconfirmed_nodes.begin(),
                                        ended.unconfirmed_nodes.end());
  if (!cordon.empty()) {
    HAI_LOG(ERROR) << "attempt " << a.attempt_id << ": " << ended.reason << "; cordoning "
                   << cordon.size() << " node(s)";
  }
  absl::Status s = store_.FailAttempt(
      a.attempt_id, absl::StrCat("its manager died ", restarts, " times"), cordon, ended.reason);
  if (!s.ok()) {
    HAI_LOG(WARNING) << "fail attempt " << a.attempt_id << ": " << s;
    return;
  }
  if (!cordon.empty()) hosts_changed_ = true;
}

void ManagerSupervisor::ForgetEnded(const OpenAttemptCache& open) {
  for (auto* m : {&launched_at_, &recheck_at_}) {
    for (auto it = m->begin(); it != m->end();) {
      it = open.holding().count(it->first) > 0 ? std::next(it) : m->erase(it);
    }
  }
  for (auto it = restarts_.begin(); it != restarts_.end();) {
    it = open.holding().count(it->first) > 0 ? std::next(it) : restarts_.erase(it);
  }
  for (auto it = not_alive_.begin(); it != not_alive_.end();) {
    it = open.holding().count(*it) > 0 ? std::next(it) : not_alive_.erase(it);
  }
  metrics_.managers_not_alive = static_cast<int64_t>(not_alive_.size());
  metrics_.managers_alive =
      static_cast<int64_t>(open.holding().size()) - static_cast<int64_t>(not_alive_.size());
}

}  // namespace hai
