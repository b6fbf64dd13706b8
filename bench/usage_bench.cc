// Usage accounting at a year's scale (issue 19): 1,000 nodes x 8 GPUs in 4 node groups, 200
// users, 1,000,000 attempts (1-8 GPUs or 1-4 whole nodes, 10 min to 12 h, 5% preempted with a
// restart) spread over 365 days, node state changes every few weeks.
//   BM_ExactWindow/<days>: the exact computation over a window of that many days (no rollups).
//   BM_RollupYear: computing every hourly rollup of the year in one pass (done once).
// In memory: the Postgres reads are not included. A whole report through haid and Postgres,
// with the rollups, is bench/live/usage_load.cc (bench/README.md).
#include <random>

#include <benchmark/benchmark.h>

#include "scheduler/usage/usage.h"

namespace hai::usage {
namespace {

constexpr Micros kHour = int64_t{3600} * 1000000;
constexpr Micros kYear = 365 * 24 * kHour;

const History& Year() {
  static const History h = [] {
    History h;
    std::mt19937_64 rng(19);
    auto pick = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    h.node_groups = {"a", "b", "c", "d"};
    for (int u = 0; u < 50; ++u) {
      for (int tier : {0, 10, 30}) {
        h.owners.push_back({"user" + std::to_string(u), "group" + std::to_string(u % 10), tier});
      }
    }
    for (int n = 0; n < 1000; ++n) {
      NodeHistory node{.name = "node" + std::to_string(n)};
      Micros t = 0;
      while (t < kYear) {
        const Micros to = std::min(kYear, t + pick(7 * 24, 60 * 24) * kHour);
        node.spans.push_back({.from = t,
                              .to = to,
                              .gpus = 8,
                              .availability = node.spans.size() % 2 == 0
                                                  ? Availability::kReady
                                                  : Availability::kUnavailable,
                              .node_group = n % 4});
        t = to;
        if (node.spans.back().availability == Availability::kUnavailable) continue;
        // Unavailable spells are short: a day.
        const Micros down = std::min(kYear, t + 24 * kHour);
        if (t < down) {
          node.spans.push_back({.from = t,
                                .to = down,
                                .gpus = 8,
                                .availability = Availability::kUnavailable,
                                .node_group = n % 4});
        }
        t = down;
      }
      h.nodes.push_back(std::move(node));
    }
    for (int a = 0; a < 1000000; ++a) {
      const Micros start = pick(0, kYear - kHour);
      const Micros end = std::min(kYear, start + pick(10, 720) * 60 * 1000000);
      const int32_t owner = static_cast<int32_t>(pick(0, h.owners.size() - 1));
      const bool preempted = pick(0, 19) == 0;
      const int ranks = pick(0, 3) == 0 ? static_cast<int>(pick(1, 4)) : 1;
      const uint64_t gpus = ranks > 1 ? 0xff : (uint64_t{1} << pick(1, 8)) - 1;
      const int32_t first = static_cast<int32_t>(pick(0, 999));
      for (int r = 0; r < ranks; ++r) {
        h.holds.push_back({.node = (first + r) % 1000,
                           .owner = owner,
                           .gpus = gpus,
                           .start = start,
                           .end = end,
                           .running = start + (end - start) / 20,
                           .grace_from = preempted ? end - 60 * 1000000 : end,
                           .restart = pick(0, 19) == 0});
      }
    }
    return h;
  }();
  return h;
}

void BM_ExactWindow(benchmark::State& state) {
  const History& h = Year();
  const Micros len = state.range(0) * 24 * kHour;
  for (auto _ : state) {
    auto a = Account(h, {.since = kYear - len, .until = kYear});
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_ExactWindow)->Arg(1)->Arg(7)->Arg(365)->Unit(benchmark::kMillisecond);

void BM_RollupYear(benchmark::State& state) {
  const History& h = Year();
  for (auto _ : state) {
    auto a = Account(h, {.since = 0, .until = kYear, .bucket = kHour});
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_RollupYear)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace hai::usage

BENCHMARK_MAIN();
