// Turns what the store loaded into the policy core's Snapshot. Pure: no I/O, no clock.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/policy/types.h"
#include "scheduler/store/rows.h"

namespace hai {

// Views of the loop's state, not copies: at 100k open attempts a copy per pass would cost
// more than the decision.
struct SnapshotInputs {
  const std::vector<store::HostRow>& hosts;
  const std::map<int64_t, store::OpenAttempt>& open;  // queued + holding, by attempt id
  const std::map<policy::QuotaKey, int64_t>& quota;
  // Nodes the previous plan held for queued preemptors (attempt id -> node names).
  const std::map<int64_t, std::vector<std::string>>& preemption_holds;
};

// The policy nodes of the hosts rows, in their order.
std::vector<policy::Node> NodesOf(const std::vector<store::HostRow>& hosts);

// What one open attempt contributes to the snapshot: a running task (holding nodes, with its
// pods' placement), a queued one, or nothing (Jupyter containers, which the Jupyter pass
// decides; queued attempts of chains that are held or being stopped). Preemption holds are
// the caller's to apply.
struct SnapshotTask {
  bool running = false;
  policy::Task task;
};
std::optional<SnapshotTask> SnapshotTaskOf(const store::OpenAttempt& o);

// Running = attempts holding nodes (scheduled/starting/running) with their pods' placement;
// queued = queued attempts of chains that are neither held nor being stopped.
policy::Snapshot BuildSnapshot(const SnapshotInputs& in);

}  // namespace hai
