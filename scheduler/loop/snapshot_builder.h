// Turns what the store loaded into the policy core's Snapshot. Pure: no I/O, no clock.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "scheduler/policy/types.h"
#include "scheduler/store/rows.h"
#include "scheduler/store/store.h"

namespace hai {

struct SnapshotInputs {
  std::vector<store::HostRow> hosts;
  std::vector<store::OpenAttempt> open;  // queued + holding attempts
  std::map<policy::QuotaKey, int64_t> quota;
  // Nodes the previous plan held for queued preemptors (attempt id -> node names).
  std::map<int64_t, std::vector<std::string>> preemption_holds;
};

// Running = attempts holding nodes (scheduled/starting/running) with their pods' placement;
// queued = queued attempts of chains that are neither held nor being stopped.
policy::Snapshot BuildSnapshot(const SnapshotInputs& in);

}  // namespace hai
