// The gang-heavy workload generator (distributions in generator.h).
#include "bench/sim/generator.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hai::sim {
namespace {

// SplitMix64: small, well mixed and the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t x = (state_ += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }
  // Uniform in [0, 1) from the top 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1p-53; }
  // Uniform integer in [lo, hi].
  int Between(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  // Standard normal (Box-Muller; one of the pair is dropped to keep the stream simple).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]: log is finite
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  uint64_t state_;
};

struct SizeClass {
  double share;  // of jobs
  int min_nodes;
  int max_nodes;
  double median_h;
  double sigma;
};

// The gang-heavy mix (generator.h). The shares add up to 1.
constexpr SizeClass kClasses[] = {
    {0.72, 1, 1, 1.5, 1.0},
    {0.15, 2, 4, 1.5, 1.0},
    {0.05, 5, 8, 2.0, 1.0},
    {0.08, 9, 16, 2.0, 1.0},
};

// GPUs of a one-node job: 1, 2, 4 or the whole node.
int PackedGpus(Rng& rng, int gpus_per_node) {
  const double u = rng.Uniform();
  const int want = u < 0.35 ? 1 : u < 0.55 ? 2 : u < 0.75 ? 4 : gpus_per_node;
  return std::min(want, gpus_per_node);
}

constexpr int64_t kMinDurationS = 120;
constexpr int64_t kMaxDurationS = 72 * 3600;

}  // namespace

absl::StatusOr<Workload> GenerateGangHeavy(const WorkloadSpec& spec) {
  if (spec.nodes < 1 || spec.nodes > 4096) {
    return absl::InvalidArgumentError("generated group: nodes must be in [1, 4096]");
  }
  if (spec.gpus_per_node < 1 || spec.gpus_per_node > 64) {
    return absl::InvalidArgumentError("generated group: GPUs per node must be in [1, 64]");
  }
  if (!(spec.load > 0 && spec.load <= 4)) {
    return absl::InvalidArgumentError("generated load must be in (0, 4]");
  }
  if (spec.days < 1 || spec.days > 3650) {
    return absl::InvalidArgumentError("generated window must be 1 to 3650 days");
  }
  Rng rng(spec.seed);
  const double window_s = static_cast<double>(spec.days) * 86400.0;
  const double target = spec.load * spec.nodes * spec.gpus_per_node * window_s;  // GPU-seconds
  Workload w;
  w.groups.push_back(
      {.name = spec.group, .nodes = spec.nodes, .gpus_per_node = spec.gpus_per_node});
  double offered = 0;
  while (offered < target) {
    double u = rng.Uniform();
    const SizeClass* cls = &kClasses[std::size(kClasses) - 1];
    for (const SizeClass& c : kClasses) {
      if (u < c.share) {
        cls = &c;
        break;
      }
      u -= c.share;
    }
    TraceJob j;
    j.group = spec.group;
    j.nodes = std::min(rng.Between(cls->min_nodes, cls->max_nodes), spec.nodes);
    j.gpus = j.nodes == 1 ? PackedGpus(rng, spec.gpus_per_node) : j.nodes * spec.gpus_per_node;
    const double seconds = cls->median_h * 3600.0 * std::exp(cls->sigma * rng.Normal());
    j.duration_s =
        std::clamp(static_cast<int64_t>(std::llround(seconds)), kMinDurationS, kMaxDurationS);
    offered += static_cast<double>(j.gpus) * static_cast<double>(j.duration_s);
    w.jobs.push_back(std::move(j));
  }
  std::vector<int64_t> submits;
  submits.reserve(w.jobs.size());
  for (size_t i = 0; i < w.jobs.size(); ++i) {
    submits.push_back(static_cast<int64_t>(rng.Uniform() * window_s));
  }
  std::sort(submits.begin(), submits.end());
  for (size_t i = 0; i < w.jobs.size(); ++i) {
    w.jobs[i].submit_s = submits[i];
    w.jobs[i].id = absl::StrFormat("gen-%06d", i + 1);
    w.jobs[i].user = "anonymous";
  }
  w.offered_gpu_hours = offered / 3600.0;
  return w;
}

absl::Status WriteWorkload(const Workload& w, const std::string& trace_path,
                           const std::string& cluster_path) {
  std::ofstream trace(trace_path, std::ios::trunc);
  trace << "job_id,user,group,submit_time_s,duration_s,num_gpus,num_nodes,time_limit_s\n";
  for (const TraceJob& j : w.jobs) {
    trace << j.id << "," << j.user << "," << j.group << "," << j.submit_s << "," << j.duration_s
          << "," << j.gpus << "," << j.nodes << ",";
    if (j.time_limit_s > 0) trace << j.time_limit_s;
    trace << "\n";
  }
  trace.close();
  if (!trace) return absl::InternalError(absl::StrCat("cannot write ", trace_path));
  std::ofstream cluster(cluster_path, std::ios::trunc);
  cluster << "group,nodes,gpus_per_node\n";
  for (const GroupSpec& g : w.groups) {
    cluster << g.name << "," << g.nodes << "," << g.gpus_per_node << "\n";
  }
  cluster.close();
  if (!cluster) return absl::InternalError(absl::StrCat("cannot write ", cluster_path));
  return absl::OkStatus();
}

}  // namespace hai::sim
