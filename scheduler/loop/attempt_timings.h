// Feeds the latency histograms of /metrics from what each pass reads of the node-holding
// attempts: queued -> placed and queued -> running per tier (observed once per attempt, when
// the loop first sees its scheduled_at / started_at), and suspend notice -> end (observed when
// an attempt that had a notice stops holding nodes, so it includes up to one pass of haid's
// own delay; the notice is Postgres' timestamp, the end haid's clock). Attempts placed or
// started before haid started are not observed (a restart would count them twice). Work per
// pass is proportional to the node-holding attempts, like the supervisor's.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "scheduler/loop/open_attempts.h"
#include "scheduler/metrics.h"

namespace hai {

class AttemptTimings {
 public:
  AttemptTimings(Metrics& metrics, absl::Time since) : metrics_(metrics), since_(since) {}
  void Observe(const OpenAttemptCache& open, absl::Time now);

 private:
  struct Seen {
    bool placed = false;
    bool running = false;
    std::optional<absl::Time> notice;  // suspend notice, when not also a stop
  };
  Metrics& metrics_;
  absl::Time since_;
  absl::flat_hash_map<int64_t, Seen> seen_;
};

}  // namespace hai
