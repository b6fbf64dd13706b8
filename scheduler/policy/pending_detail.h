// The one line that tells a user why their task waits, written from the numbers Decide
// recorded (PendingFacts in types.h). Pure; called by the API when a task's status or the
// queue is read, not by the pass.
#pragma once

#include <string>
#include <string_view>

#include "scheduler/policy/types.h"

namespace hai::policy {

// `user` and `group` are the waiting task's. A Pending with a ready-made `detail` returns it.
std::string PendingDetail(const Pending& p, std::string_view user, std::string_view group);

}  // namespace hai::policy
