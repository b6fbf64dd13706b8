// Benchmarks of policy::Decide, the full scheduling cycle of the pure core: indexing the
// snapshot, ordering the queue, placement, preemption and pending reasons. Snapshot
// generation is setup and not timed. Counters report decision rate and plan quality
// (starts, suspends, GPU utilisation after the plan). Figures: bench/README.md.
#include <benchmark/benchmark.h>

#include <map>
#include <string>

#include "bench/snapshot_gen.h"
#include "scheduler/policy/decide.h"

namespace hai::bench {
namespace {

// GPUs busy after the plan (running + started) over all GPUs.
double Utilisation(const policy::Snapshot& s, const policy::Plan& plan) {
  std::map<std::string, int> gpus;
  int64_t total = 0;
  for (const policy::Node& n : s.nodes) {
    gpus[n.name] = n.gpus;
    total += n.gpus;
  }
  int64_t used = 0;
  auto add = [&](const std::vector<policy::RankPlacement>& placement, bool whole) {
    for (const auto& r : placement) {
      used += whole || r.gpus.empty() ? gpus[r.node] : static_cast<int>(r.gpus.size());
    }
  };
  for (const policy::Task& t : s.running) add(t.placement, t.gpus_per_node == 0 || t.nodes > 1);
  for (const policy::StartDecision& d : plan.starts) add(d.placement, false);
  return total == 0 ? 0 : static_cast<double>(used) / static_cast<double>(total);
}

void RunDecide(benchmark::State& state, const GenParams& params) {
  const policy::Snapshot s = Generate(params);
  const policy::PolicyConfig config = BenchConfig();
  const absl::Time now = BenchNow();
  policy::Plan plan;
  for (auto _ : state) {
    plan = policy::Decide(s, config, now);
    benchmark::DoNotOptimize(plan);
  }
  state.counters["nodes"] = static_cast<double>(s.nodes.size());
  state.counters["running"] = static_cast<double>(s.running.size());
  state.counters["queued"] = static_cast<double>(s.queued.size());
  state.counters["starts"] = static_cast<double>(plan.starts.size());
  state.counters["suspends"] = static_cast<double>(plan.suspends.size());
  state.counters["util"] = Utilisation(s, plan);
  // Queued tasks decided (started, preempting or given a reason) per second.
  state.counters["decisions/s"] = benchmark::Counter(static_cast<double>(s.queued.size()),
                                                     benchmark::Counter::kIsIterationInvariantRate);
}

// Args: nodes, queued, running. Mixed tiers, half the queue above the running work.
void BM_Decide(benchmark::State& state) {
  GenParams p;
  p.nodes = static_cast<int>(state.range(0));
  p.queued = static_cast<int>(state.range(1));
  p.running = static_cast<int>(state.range(2));
  p.users = 1000;
  RunDecide(state, p);
}
BENCHMARK(BM_Decide)
    ->Args({352, 1000, 400})
    ->Args({5000, 50000, 4000})
    ->Args({5000, 50000, 20000})
    ->Unit(benchmark::kMillisecond);

// Preemption-heavy: every running task is LOW and the whole queue is HIGH or above, so
// every queued task searches for victims until the LOW work is used up.
void BM_DecidePreemptionHeavy(benchmark::State& state) {
  GenParams p;
  p.nodes = static_cast<int>(state.range(0));
  p.queued = static_cast<int>(state.range(1));
  p.running = static_cast<int>(state.range(2));
  p.users = 1000;
  p.preempt_fraction = 1.0;
  p.only_low_running = true;
  RunDecide(state, p);
}
BENCHMARK(BM_DecidePreemptionHeavy)
    ->Args({352, 1000, 400})
    ->Args({5000, 50000, 20000})
    ->Unit(benchmark::kMillisecond);

// Time limits (issue 21): half the running and queued tasks have one, so tier heads reserve
// with a known start, limited tasks try EASY backfill onto reserved nodes and overruns on a
// head's nodes are suspended for it.
void BM_DecideWithLimits(benchmark::State& state) {
  GenParams p;
  p.nodes = static_cast<int>(state.range(0));
  p.queued = static_cast<int>(state.range(1));
  p.running = static_cast<int>(state.range(2));
  p.users = 1000;
  p.limit_fraction = 0.5;
  RunDecide(state, p);
}
BENCHMARK(BM_DecideWithLimits)
    ->Args({352, 1000, 400})
    ->Args({5000, 50000, 4000})
    ->Args({5000, 50000, 20000})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hai::bench

BENCHMARK_MAIN();
