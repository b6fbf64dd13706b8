// Counters and gauges exported on /metrics in the Prometheus text format. Lock-free atomics:
// written by the scheduler thread and gRPC handlers, read by the HTTP thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace hai {

struct Metrics {
  std::atomic<int64_t> scheduler_passes{0};
  std::atomic<int64_t> scheduler_pass_errors{0};
  std::atomic<int64_t> last_pass_micros{0};      // duration of the last pass
  std::atomic<int64_t> last_decide_micros{0};    // of which the policy core
  std::atomic<int64_t> last_load_micros{0};      // of which reading changes from Postgres
  std::atomic<int64_t> last_refresh_rows{0};     // open-attempt rows that read returned
  std::atomic<int64_t> pass_micros_total{0};
  std::atomic<int64_t> attempts_started{0};
  std::atomic<int64_t> suspends_requested{0};
  std::atomic<int64_t> stale_decisions{0};
  std::atomic<int64_t> managers_launched{0};
  std::atomic<int64_t> managers_lost{0};
  std::atomic<int64_t> submits{0};
  std::atomic<int64_t> rejected_submits{0};
  std::atomic<int64_t> queued_attempts{0};
  std::atomic<int64_t> running_attempts{0};
  std::atomic<int64_t> quota_problems{0};
  // Leader election (scheduler/election/leader_elector.h): 1 while this replica leads; the
  // epoch it leads with, or while a standby the latest it saw.
  std::atomic<int64_t> leader{0};
  std::atomic<int64_t> leader_epoch{0};
  std::atomic<int64_t> leader_transitions{0};  // became leader or stood down
  std::atomic<int64_t> fenced_writes{0};       // scheduler writes refused for a later epoch
  std::atomic<int64_t> leader_passes{0};       // passes completed as leader (acting on them)

  // Prometheus text exposition of everything above.
  std::string Render() const;
};

}  // namespace hai
