// Counters, gauges and histograms exported on /metrics in the Prometheus text format.
// Counters, gauges and histogram buckets are lock-free atomics, written by the scheduler
// thread and gRPC handlers and read by the HTTP thread. The labelled gauges that describe the
// cluster at the last pass (GPUs by group, tier and user; queue by group, tier and reason;
// nodes; Jupyter containers) are rendered once per pass by the scheduler thread
// (loop/cluster_gauges.h) and swapped in under a mutex. Names, labels and their bounds:
// docs/monitoring.md.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hai {

// A Prometheus histogram with fixed upper bounds (seconds); Observe is lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(absl::Duration d);
  // Appends the _bucket, _sum and _count lines; `labels` is "" or `k="v",...` (no braces).
  void Render(std::string* out, const std::string& name, const std::string& labels) const;
  int64_t count() const { return count_.load(); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<int64_t>[]> buckets_;  // not cumulative; +Inf is the count
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_micros_{0};
};

struct Metrics {
  Metrics();

  std::atomic<int64_t> scheduler_passes{0};
  std::atomic<int64_t> scheduler_pass_errors{0};
  std::atomic<int64_t> last_pass_micros{0};      // duration of the last pass
  std::atomic<int64_t> last_decide_micros{0};    // of which the policy core
  std::atomic<int64_t> last_load_micros{0};      // of which reading changes from Postgres
  std::atomic<int64_t> last_refresh_rows{0};     // open-attempt rows that read returned
  std::atomic<int64_t> pass_micros_total{0};
  std::atomic<int64_t> last_pass_unix_micros{0};  // when the last pass ended (haid's clock)
  std::atomic<int64_t> attempts_started{0};
  std::atomic<int64_t> suspends_requested{0};
  std::atomic<int64_t> preemptions{0};          // of which for a higher-tier task
  std::atomic<int64_t> over_quota_suspends{0};  // of which for an owner over a lowered quota
  std::atomic<int64_t> stale_decisions{0};
  std::atomic<int64_t> managers_launched{0};
  std::atomic<int64_t> managers_lost{0};
  std::atomic<int64_t> managers_alive{0};      // node-holding attempts whose manager is alive
  std::atomic<int64_t> managers_not_alive{0};  // ... whose manager was last found gone or hung
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

  Histogram pass_seconds;
  // Per tier (model::TierIndex): queued -> placed, and queued -> every rank running, of each
  // attempt (a resumed attempt counts from its requeue).
  std::array<std::unique_ptr<Histogram>, 7> queue_delay_seconds;
  std::array<std::unique_ptr<Histogram>, 7> submit_to_running_seconds;
  // Suspend notice -> the attempt ended (checkpoint, go_suspend or grace, termination).
  Histogram suspend_latency_seconds;

  // The cluster gauges of the last pass, already in exposition format.
  void SetClusterGauges(std::string text);

  // Prometheus text exposition of everything above.
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::string cluster_gauges_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hai
