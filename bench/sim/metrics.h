// Figures of one replay: per tier and overall, job completion time (finish - submit) and
// queueing delay (first start - submit) as mean / median / p95 / p99, suspensions and the
// GPU-hours they cost, plus the utilisation the replay measured. Pure arithmetic over the
// replay's outcomes, so the figures a test checks are the ones the report prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/sim/replay.h"

namespace hai::sim {

struct Distribution {
  int64_t count = 0;
  double mean = 0;
  double median = 0;
  double p95 = 0;
  double p99 = 0;
  double max = 0;
};

// Nearest-rank percentiles (the smallest value with at least p% of the values at or below
// it): every figure is a value that occurred, reproducible by hand.
Distribution Describe(std::vector<int64_t> values);

struct TierSummary {
  std::string tier;      // tier name, or "ALL"
  int64_t jobs = 0;      // replayed (admitted) jobs
  int64_t rejected = 0;  // could never run on this cluster
  Distribution jct_s;
  Distribution queue_delay_s;
  int64_t suspensions = 0;
  int64_t suspended_jobs = 0;
  double lost_gpu_hours = 0;
  double gpu_hours = 0;  // productive GPU-hours asked for (duration x GPUs held)
};

// Jobs of one tier (or "ALL") and one size class (SizeClassOf): small jobs are the ones a
// reservation for a large gang keeps off its nodes, so waits are reported per size too.
struct SizeSummary {
  std::string tier;
  std::string size;
  int64_t jobs = 0;
  Distribution jct_s;
  Distribution queue_delay_s;
};

// The size class of a job of `nodes` nodes: "1", "2-4", "5-8" or "9+".
std::string SizeClassOf(int nodes);

struct Summary {
  std::string policy;
  std::vector<TierSummary> tiers;  // tiers present, highest first; then "ALL"
  std::vector<SizeSummary> sizes;  // per tier present (then "ALL"), per size class present
  double window_utilisation = 0;
  double makespan_utilisation = 0;
  int64_t makespan_s = 0;  // last finish - first submit
  double idle_waiting_gpu_hours = 0;   // SimResult::idle_waiting_gpu_s in hours
  double reserved_idle_gpu_hours = 0;  // SimResult::reserved_idle_gpu_s in hours
  int64_t decide_calls = 0;
  int64_t over_quota_suspensions = 0;  // SimResult::over_quota_suspensions
  int64_t queued_passed = 0;
  double wall_s = 0;
  double cpu_s = 0;
};

Summary Summarize(const std::vector<SimJob>& jobs, const SimResult& result);

// The row for `tier` ("ALL" for overall), or nullptr.
const TierSummary* FindTier(const Summary& s, const std::string& tier);

}  // namespace hai::sim
