#include "scheduler/loop/node_health.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hai {

bool NodeHealth::Check() {
  if (threshold_ <= 0) return false;
  auto marked = store_.MarkUnhealthyNodes(threshold_);
  if (!marked.ok()) {
    HAI_LOG(WARNING) << "node health: " << marked.status();
    return false;
  }
  for (const auto& [node, attempts] : *marked) {
    HAI_LOG(WARNING) << "node " << node << " marked unhealthy (ranks lost there); requeueing "
                     << attempts.size() << " task(s)";
    const std::string why = absl::StrCat("node ", node, " is unhealthy");
    for (int64_t attempt : attempts) {
      if (store_.RequestSuspend(attempt, 0, why, "scheduler").ok()) {
        notifier_.NotifyManager(attempt, "suspend");
      }
    }
  }
  return !marked->empty();
}

}  // namespace hai
