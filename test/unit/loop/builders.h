// Rows for the loop's unit tests.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "scheduler/store/rows.h"

namespace hai::testing {

inline const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

inline store::OpenAttempt Queued(int64_t attempt_id, int priority = 10, int nodes = 1,
                                 const std::string& user = "alice") {
  store::OpenAttempt o;
  o.attempt.attempt_id = attempt_id;
  o.attempt.chain_id = 100 + attempt_id;
  o.attempt.state = model::AttemptState::kQueued;
  o.attempt.tier = priority < 0 ? 10 : priority;
  o.attempt.queued_at = kT0;
  o.chain.chain_id = 100 + attempt_id;
  o.chain.name = absl::StrCat("task-", attempt_id);
  o.chain.user = user;
  o.chain.group = std::string("g");  // not = "g": GCC 12 -Wrestrict false positive (bug 105329)
  o.chain.priority = priority;
  o.chain.nodes = nodes;
  o.chain.first_submit_at = kT0 - absl::Seconds(attempt_id);
  return o;
}

// An attempt holding `nodes` (one rank per node), with a manager that heartbeat at `beat`.
inline store::OpenAttempt Running(int64_t attempt_id, const std::vector<std::string>& nodes,
                                  int tier = 10, std::optional<int> manager_pid = 4000,
                                  absl::Time beat = kT0, const std::string& user = "alice") {
  store::OpenAttempt o = Queued(attempt_id, tier, static_cast<int>(nodes.size()), user);
  o.attempt.state = model::AttemptState::kRunning;
  o.attempt.tier = tier;
  o.attempt.scheduled_at = kT0 - absl::Minutes(30);
  o.attempt.started_at = kT0 - absl::Minutes(30);
  o.attempt.manager_pid = manager_pid;
  if (manager_pid.has_value()) o.attempt.manager_heartbeat_at = beat;
  for (size_t r = 0; r < nodes.size(); ++r) {
    store::PodRow pod;
    pod.rank = static_cast<int>(r);
    pod.node = nodes[r];
    pod.state = model::PodState::kRunning;
    o.attempt.pods.push_back(pod);
  }
  return o;
}

inline store::HostRow Host(const std::string& name, int gpus = 8) {
  store::HostRow h;
  h.node.name = name;
  h.node.group = "g";
  h.node.gpus = gpus;
  return h;
}

}  // namespace hai::testing
