#include "scheduler/loop/manager_liveness.h"

namespace hai {

RecordedManager RecordedOf(const store::ManagerLiveness& l, int64_t attempt_id) {
  return {.pid = static_cast<pid_t>(l.pid.value_or(0)),
          .attempt_id = attempt_id,
          .start_time = l.start_time};
}

ManagerVerdict JudgeManager(const store::ManagerLiveness& l, int64_t attempt_id,
                            const LivenessRules& rules,
                            const std::function<ManagerMatch(const RecordedManager&)>& identify) {
  if (!l.pid.has_value()) return ManagerVerdict::kGone;
  const bool fresh = !rules.silence_counts || l.silence < rules.timeout;
  const bool here = l.host.empty() || l.host == rules.this_host;
  if (!here) return fresh ? ManagerVerdict::kAlive : ManagerVerdict::kGone;
  switch (identify(RecordedOf(l, attempt_id))) {
    case ManagerMatch::kNotIt:
      return ManagerVerdict::kGone;  // ended, or the pid is another process's now
    case ManagerMatch::kCannotTell: return ManagerVerdict::kAlive;
    case ManagerMatch::kIsIt: break;
  }
  return fresh ? ManagerVerdict::kAlive : ManagerVerdict::kHung;
}

}  // namespace hai
