// Snapshot builders shared by the policy tests: short, explicit constructors so each test
// reads as a table of nodes and tasks.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "scheduler/policy/pending_detail.h"
#include "scheduler/policy/types.h"

namespace hai::policy::testing {

inline const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

inline Node MakeNode(std::string name, std::string group = "a100", int gpus = 8,
                     std::string sw = "s1", std::string room = "r1",
                     NodeState state = NodeState::kReady) {
  Node n;
  n.name = std::move(name);
  n.group = std::move(group);
  n.gpus = gpus;
  n.sw = std::move(sw);
  n.room = std::move(room);
  n.state = state;
  return n;
}

// A queued task submitted `submit_s` seconds after kT0.
inline Task Queued(int64_t id, std::string user, Tier tier, int nodes, int gpus_per_node = 0,
                   int submit_s = 0, std::string group = "a100") {
  Task t;
  t.attempt_id = id;
  t.chain_id = id;
  t.user = std::move(user);
  t.requested_priority = static_cast<int>(tier);
  t.tier = tier;
  t.group = std::move(group);
  t.nodes = nodes;
  t.gpus_per_node = gpus_per_node;
  t.first_submit = kT0 + absl::Seconds(submit_s);
  return t;
}

inline Task QueuedAuto(int64_t id, std::string user, int nodes, int submit_s = 0) {
  Task t = Queued(id, std::move(user), Tier::kNormal, nodes, 0, submit_s);
  t.requested_priority = kAutoPriority;
  return t;
}

// A running task on `placement` (node, GPUs; empty GPUs = whole node), started
// `started_s` seconds after kT0.
inline Task Running(int64_t id, std::string user, Tier tier,
                    std::vector<std::pair<std::string, std::vector<int>>> placement,
                    int gpus_per_node = 0, int started_s = 0, std::string group = "a100") {
  Task t;
  t.attempt_id = id;
  t.chain_id = id;
  t.user = std::move(user);
  t.requested_priority = static_cast<int>(tier);
  t.tier = tier;
  t.group = std::move(group);
  t.nodes = static_cast<int>(placement.size());
  t.gpus_per_node = gpus_per_node;
  t.first_submit = kT0 + absl::Seconds(started_s - 1);
  t.running_since = kT0 + absl::Seconds(started_s);
  for (auto& [node, gpus] : placement) t.placement.push_back({node, gpus});
  return t;
}

inline void SetQuota(Snapshot& s, const std::string& user, Tier tier, int64_t nodes,
                     const std::string& group = "a100") {
  s.quota[QuotaKey{user, group, tier}] = nodes;
}

// Quota `nodes` at every tier for each user.
inline void GenerousQuota(Snapshot& s, const std::vector<std::string>& users, int64_t nodes = 1000,
                          const std::string& group = "a100") {
  for (const std::string& u : users) {
    for (Tier t : {Tier::kLow, Tier::kBelowNormal, Tier::kNormal, Tier::kAboveNormal, Tier::kHigh,
                   Tier::kVeryHigh, Tier::kExtremeHigh}) {
      SetQuota(s, u, t, nodes, group);
    }
  }
}

inline const Pending* FindPending(const Plan& p, int64_t id) {
  for (const Pending& x : p.pending) {
    if (x.attempt_id == id) return &x;
  }
  return nullptr;
}

// The detail line of `id`'s pending entry, written for its queued task in `s`.
inline std::string DetailOf(const Snapshot& s, const Plan& p, int64_t id) {
  const Pending* w = FindPending(p, id);
  if (w == nullptr) return "(not pending)";
  for (const Task& t : s.queued) {
    if (t.attempt_id == id) return PendingDetail(*w, t.user, t.group);
  }
  return "(no such queued task)";
}

inline const StartDecision* FindStart(const Plan& p, int64_t id) {
  for (const StartDecision& x : p.starts) {
    if (x.attempt_id == id) return &x;
  }
  return nullptr;
}

}  // namespace hai::policy::testing
