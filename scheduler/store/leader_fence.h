// The leader epoch as the store's writes carry it (sql/migrations/0013_leader_lease.sql).
// A write the leader makes as scheduler is refused with LeaderSuperseded once another
// replica was elected with a later epoch; the loop then steps down (scheduler/loop/
// scheduler.cc). No pqxx here: the loop and its fakes use it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hai::store {

// A store that was never told an epoch writes without the check: tools and tests that run
// the loop without an election. haid always fences (0 while it is a standby: every
// scheduler write is refused).
inline constexpr int64_t kUnfenced = -1;

inline constexpr char kLeaderSupersededUrl[] = "hai.dev/leader-superseded";

// FailedPrecondition "leader epoch 3 superseded by 4", carrying the newer epoch.
inline absl::Status LeaderSupersededError(int64_t mine, int64_t current) {
  absl::Status s = absl::FailedPreconditionError(
      absl::StrCat("leader epoch ", mine, " superseded by ", current));
  s.SetPayload(kLeaderSupersededUrl, absl::Cord(absl::StrCat(current)));
  return s;
}

// The epoch that superseded the writer's, when `s` is a LeaderSupersededError.
inline std::optional<int64_t> SupersedingEpoch(const absl::Status& s) {
  auto p = s.GetPayload(kLeaderSupersededUrl);
  int64_t epoch = 0;
  if (!p.has_value() || !absl::SimpleAtoi(std::string(*p), &epoch)) return std::nullopt;
  return epoch;
}

}  // namespace hai::store
