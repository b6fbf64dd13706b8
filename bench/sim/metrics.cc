// Replay figures (see metrics.h).
#include "bench/sim/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "scheduler/policy/tier.h"

namespace hai::sim {

Distribution Describe(std::vector<int64_t> values) {
  Distribution d;
  d.count = static_cast<int64_t>(values.size());
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  d.mean = sum / static_cast<double>(values.size());
  auto rank = [&](double p) {
    const size_t n = values.size();
    size_t k = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    k = std::clamp<size_t>(k, 1, n);
    return static_cast<double>(values[k - 1]);
  };
  d.median = rank(50);
  d.p95 = rank(95);
  d.p99 = rank(99);
  d.max = static_cast<double>(values.back());
  return d;
}

std::string SizeClassOf(int nodes) {
  if (nodes <= 1) return "1";
  if (nodes <= 4) return "2-4";
  if (nodes <= 8) return "5-8";
  return "9+";
}

namespace {

// Size class rank, for ordering the rows small to large.
int SizeRank(const std::string& size) {
  if (size == "1") return 0;
  if (size == "2-4") return 1;
  if (size == "5-8") return 2;
  return 3;
}

// Waits and JCTs per tier (then ALL) and size class, highest tier first, small sizes first.
std::vector<SizeSummary> BySize(const std::vector<SimJob>& jobs, const SimResult& result) {
  struct Acc {
    std::vector<int64_t> jct, delay;
  };
  // (tier value, or -1 for ALL; size rank) -> jobs. ALL sorts last.
  std::map<std::pair<int, int>, Acc> acc;
  std::map<int, std::string> size_names;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobOutcome& o = result.jobs[i];
    if (o.rejected) continue;
    const std::string size = SizeClassOf(jobs[i].nodes);
    const int rank = SizeRank(size);
    size_names[rank] = size;
    for (int tier : {static_cast<int>(jobs[i].tier), -1}) {
      Acc& a = acc[{tier == -1 ? 1000 : -tier, rank}];
      a.jct.push_back(o.finish_s - jobs[i].submit_s);
      a.delay.push_back(o.first_start_s - jobs[i].submit_s);
    }
  }
  std::vector<SizeSummary> out;
  for (auto& [key, a] : acc) {
    SizeSummary s;
    s.tier = key.first == 1000
                 ? std::string("ALL")
                 : std::string(policy::TierName(static_cast<policy::Tier>(-key.first)));
    s.size = size_names[key.second];
    s.jobs = static_cast<int64_t>(a.delay.size());
    s.jct_s = Describe(std::move(a.jct));
    s.queue_delay_s = Describe(std::move(a.delay));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Summary Summarize(const std::vector<SimJob>& jobs, const SimResult& result) {
  struct Acc {
    std::vector<int64_t> jct, delay;
    TierSummary s;
  };
  std::map<int, Acc, std::greater<int>> by_tier;
  Acc all;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobOutcome& o = result.jobs[i];
    for (Acc* a : {&by_tier[static_cast<int>(jobs[i].tier)], &all}) {
      if (o.rejected) {
        ++a->s.rejected;
        continue;
      }
      ++a->s.jobs;
      a->jct.push_back(o.finish_s - jobs[i].submit_s);
      a->delay.push_back(o.first_start_s - jobs[i].submit_s);
      a->s.suspensions += o.suspensions;
      a->s.suspended_jobs += o.suspensions > 0 ? 1 : 0;
      a->s.lost_gpu_hours += static_cast<double>(o.lost_gpu_s) / 3600.0;
      a->s.gpu_hours += static_cast<double>(jobs[i].duration_s) * o.gpus_allocated / 3600.0;
    }
  }
  Summary out;
  out.policy = std::string(PolicyName(result.policy));
  auto finish = [](Acc& a, std::string name) {
    a.s.tier = std::move(name);
    a.s.jct_s = Describe(std::move(a.jct));
    a.s.queue_delay_s = Describe(std::move(a.delay));
    return a.s;
  };
  for (auto& [tier, acc] : by_tier) {
    out.tiers.push_back(
        finish(acc, std::string(policy::TierName(static_cast<policy::Tier>(tier)))));
  }
  out.tiers.push_back(finish(all, "ALL"));
  out.sizes = BySize(jobs, result);
  out.idle_waiting_gpu_hours = result.idle_waiting_gpu_s / 3600.0;
  out.reserved_idle_gpu_hours = result.reserved_idle_gpu_s / 3600.0;
  out.window_utilisation = result.window_utilisation;
  out.makespan_utilisation = result.makespan_utilisation;
  out.makespan_s = result.end_s - result.start_s;
  out.decide_calls = result.decide_calls;
  out.over_quota_suspensions = result.over_quota_suspensions;
  out.queued_passed = result.queued_passed;
  out.wall_s = result.wall_s;
  out.cpu_s = result.cpu_s;
  return out;
}

const TierSummary* FindTier(const Summary& s, const std::string& tier) {
  for (const TierSummary& t : s.tiers) {
    if (t.tier == tier) return &t;
  }
  return nullptr;
}

}  // namespace hai::sim
