// Store rows -> hai.v1 messages.
#pragma once

#include <optional>

#include "hai/v1/task.pb.h"
#include "scheduler/loop/published_views.h"
#include "scheduler/store/rows.h"

namespace hai::api {

// `pending`: the scheduler's latest reason when the chain is waiting.
void ToProto(const store::Chain& chain, const std::optional<PendingView>& pending,
             const std::string& log_dir, hai::v1::Task* out);

}  // namespace hai::api
