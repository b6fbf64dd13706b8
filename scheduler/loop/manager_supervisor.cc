#include "scheduler/loop/manager_supervisor.h"

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

ManagerVerdict ManagerSupervisor::Judge(const store::AttemptRow& a, absl::Time now) const {
  return JudgeManager(a, now, opt_.manager_timeout, opt_.this_host,
                      [this](pid_t pid) { return processes_.Alive(pid); });
}

bool ManagerSupervisor::LooksLost(const store::AttemptRow& a, absl::Time now) const {
  if (processes_.HasLiveChild(a.attempt_id)) return false;
  return Judge(a, now) != ManagerVerdict::kAlive;
}

void ManagerSupervisor::RefreshLiveness(OpenAttemptCache& open, absl::Time now) {
  std::vector<int64_t> suspects;
  for (int64_t id : open.holding()) {
    if (LooksLost(open.Find(id)->attempt, now)) suspects.push_back(id);
  }
  if (suspects.empty()) return;
  auto live = store_.LoadManagerLiveness(suspects);
  if (!live.ok()) {
    HAI_LOG(WARNING) << "manager liveness: " << live.status();
    return;
  }
  for (const auto& [id, l] : *live) {
    if (store::OpenAttempt* o = open.Find(id); o != nullptr) {
      o->attempt.manager_pid = l.pid;
      o->attempt.manager_heartbeat_at = l.heartbeat_at;
      o->attempt.manager_host = l.host;
    }
  }
}

void ManagerSupervisor::Supervise(OpenAttemptCache& open, absl::Time now) {
  RefreshLiveness(open, now);
  for (int64_t id : open.holding()) SuperviseOne(open.Find(id)->attempt, now);
  ForgetEnded(open);
}

void ManagerSupervisor::SuperviseOne(const store::AttemptRow& a, absl::Time now) {
  if (processes_.HasLiveChild(a.attempt_id)) return;
  // Not our live child: a manager from an earlier haid, or one that died.
  bool alive = false;
  if (a.manager_pid.has_value()) {
    const ManagerVerdict verdict = Judge(a, now);
    alive = verdict == ManagerVerdict::kAlive;
    // Alive on this host but silent past the timeout: hung. Replace it.
    if (verdict == ManagerVerdict::kHung) processes_.Kill(static_cast<pid_t>(*a.manager_pid));
  } else if (a.scheduled_at.has_value() && now - *a.scheduled_at < opt_.start_timeout &&
             restarts_.count(a.attempt_id) > 0) {
    alive = true;  // relaunched recently, not registered yet
  }
  if (alive) return;
  int& restarts = restarts_[a.attempt_id];
  if (a.manager_pid.has_value()) ++metrics_.managers_lost;
  if (restarts >= opt_.max_restarts) {
    HAI_LOG(ERROR) << "attempt " << a.attempt_id << ": manager lost " << restarts
                   << " times; failing the attempt";
    (void)store_.FailAttempt(a.attempt_id, absl::StrCat("its manager died ", restarts, " times"));
    return;
  }
  ++restarts;
  HAI_LOG(WARNING) << "attempt " << a.attempt_id << " (" << model::Name(a.state)
                   << ") has no live manager; starting one to adopt its pods";
  StartManager(a.attempt_id);
}

void ManagerSupervisor::ForgetEnded(const OpenAttemptCache& open) {
  for (auto it = restarts_.begin(); it != restarts_.end();) {
    it = open.holding().count(it->first) > 0 ? std::next(it) : restarts_.erase(it);
  }
}

}  // namespace hai
