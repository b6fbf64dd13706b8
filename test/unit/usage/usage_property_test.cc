// Property test of usage::Account: over many random histories (seeded, so reproducible) the
// result equals a brute-force oracle that walks every microsecond of every GPU, and the
// conservation law holds exactly per node and in every grouping.
#include <random>

#include <gtest/gtest.h>

#include "scheduler/usage/usage.h"

namespace hai::usage {
namespace {

History RandomHistory(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  History h;
  h.node_groups = {"a", "b"};
  h.owners = {{"alice", "vision", 30}, {"bob", "vision", 0}, {"carol", "nlp", 10}};
  const int nodes = pick(1, 4);
  for (int n = 0; n < nodes; ++n) {
    NodeHistory node{.name = "n" + std::to_string(n)};
    Micros t = pick(-10, 20);
    while (t < 70) {
      const Micros to = t + pick(1, 25);
      node.spans.push_back(
          {.from = t,
           .to = to,
           .gpus = pick(0, 4),
           .availability = pick(0, 2) == 0 ? Availability::kUnavailable : Availability::kReady,
           .node_group = pick(0, 1)});
      t = to + (pick(0, 3) == 0 ? pick(1, 5) : 0);  // sometimes a gap: the node was gone
    }
    h.nodes.push_back(std::move(node));
  }
  const int holds = pick(0, 15);
  for (int i = 0; i < holds; ++i) {
    RankHold r;
    r.node = pick(0, nodes - 1);
    r.owner = pick(0, 2);
    r.gpus = static_cast<uint64_t>(pick(0, 31));  // bit 4 is past every node's GPUs
    r.start = pick(-10, 70);
    r.end = r.start + pick(0, 30);
    r.running = pick(0, 1) ? r.end : pick(static_cast<int>(r.start), static_cast<int>(r.end));
    r.grace_from = pick(0, 1) ? r.end : pick(static_cast<int>(r.start), static_cast<int>(r.end));
    r.restart = pick(0, 2) == 0;
    h.holds.push_back(r);
  }
  return h;
}

// Walks every time unit of every GPU: the definition in docs/usage.md, written the slow way.
Accounting Oracle(const History& h, const Window& w) {
  Accounting out;
  out.per_node.resize(h.nodes.size());
  out.capacity_per_node.resize(h.nodes.size());
  const Micros bucket = w.bucket > 0 ? w.bucket : w.until - w.since;
  for (Micros t = w.since; t < w.until; ++t) {
    const int64_t b = (t - w.since) / bucket;
    for (size_t n = 0; n < h.nodes.size(); ++n) {
      const NodeSpan* span = nullptr;
      for (const NodeSpan& s : h.nodes[n].spans) {
        if (s.from <= t && t < s.to) span = &s;
      }
      if (span == nullptr) continue;
      const bool ready = span->availability == Availability::kReady;
      for (int g = 0; g < span->gpus; ++g) {
        out.capacity_per_node[n] += 1;
        // The holder: the earliest-started rank holding g at t (first listed on a tie).
        const RankHold* holder = nullptr;
        for (const RankHold& r : h.holds) {
          if (r.node != static_cast<int32_t>(n) || (r.gpus >> g & 1) == 0) continue;
          if (r.start <= t && t < r.end && (holder == nullptr || r.start < holder->start)) {
            holder = &r;
          }
        }
        Figures f;
        if (holder == nullptr) {
          (ready ? f.idle : f.unavailable) = 1;
          out.cells[CellKey{b, kUnallocated, span->node_group}] += f;
        } else {
          f.allocated = 1;
          f.lost_to_preemption =
              (holder->restart && t < holder->running) || t >= holder->grace_from ? 1 : 0;
          out.cells[CellKey{b, holder->owner, span->node_group}] += f;
        }
        out.per_node[n] += f;
      }
    }
  }
  absl::erase_if(out.cells, [](const auto& kv) { return kv.second == Figures{}; });
  return out;
}

TEST(UsageProperty, MatchesTheOracleAndConservesCapacity) {
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    const History h = RandomHistory(rng);
    Window w;
    w.since = std::uniform_int_distribution<int>(-15, 60)(rng);
    const int len = std::uniform_int_distribution<int>(1, 12)(rng) * 6;
    w.until = w.since + len;
    w.bucket = std::vector<int>{0, 1, 2, 3, 6, len}[seed % 6];
    SCOPED_TRACE(testing::Message() << "seed " << seed);

    absl::StatusOr<Accounting> got = Account(h, w);
    ASSERT_TRUE(got.ok()) << got.status();
    const Accounting want = Oracle(h, w);
    ASSERT_EQ(got->cells.size(), want.cells.size());
    for (const auto& [k, f] : want.cells) {
      auto it = got->cells.find(k);
      ASSERT_NE(it, got->cells.end()) << "bucket " << k.bucket << " owner " << k.owner;
      EXPECT_EQ(it->second.allocated, f.allocated);
      EXPECT_EQ(it->second.lost_to_preemption, f.lost_to_preemption);
      EXPECT_EQ(it->second.idle, f.idle);
      EXPECT_EQ(it->second.unavailable, f.unavailable);
    }
    for (size_t n = 0; n < h.nodes.size(); ++n) {
      const Figures& f = got->per_node[n];
      EXPECT_EQ(f, want.per_node[n]);
      EXPECT_EQ(got->capacity_per_node[n], want.capacity_per_node[n]);
      // Conservation, exactly: allocated + idle + unavailable = GPUs x window.
      EXPECT_EQ(f.allocated + f.idle + f.unavailable, got->capacity_per_node[n]);
      EXPECT_LE(f.lost_to_preemption, f.allocated);
      EXPECT_GE(f.idle, 0);
      EXPECT_GE(f.unavailable, 0);
    }
    // Every grouping adds up to the same capacity.
    int64_t capacity = 0;
    for (int64_t c : got->capacity_per_node) capacity += c;
    const std::vector<LedgerRow> ledger = ToLedger(*got, h);
    for (GroupBy by : {GroupBy::kUser, GroupBy::kGroup, GroupBy::kTier, GroupBy::kNodeGroup}) {
      int64_t sum = 0;
      for (const Row& r : Group(ledger, by)) {
        sum += r.figures.allocated + r.figures.idle + r.figures.unavailable;
      }
      EXPECT_EQ(sum, capacity) << Name(by);
    }
  }
}

}  // namespace
}  // namespace hai::usage
