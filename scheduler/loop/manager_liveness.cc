#include "scheduler/loop/manager_liveness.h"

namespace hai {

ManagerVerdict JudgeManager(const store::AttemptRow& a, absl::Time now, absl::Duration timeout,
                            std::string_view this_host,
                            const std::function<bool(pid_t)>& process_alive) {
  if (!a.manager_pid.has_value()) return ManagerVerdict::kGone;
  const bool fresh =
      a.manager_heartbeat_at.has_value() && now - *a.manager_heartbeat_at < timeout;
  const bool here = a.manager_host.empty() || a.manager_host == this_host;
  if (!here) return fresh ? ManagerVerdict::kAlive : ManagerVerdict::kGone;
  if (!process_alive(static_cast<pid_t>(*a.manager_pid))) return ManagerVerdict::kGone;
  return fresh ? ManagerVerdict::kAlive : ManagerVerdict::kHung;
}

}  // namespace hai
