// Worked examples of usage::Account, each figure computed by hand in the comments, and the
// typed errors for bad input.
#include <gtest/gtest.h>

#include "scheduler/usage/usage.h"

namespace hai::usage {
namespace {

constexpr Micros kHour = int64_t{3600} * 1000000;

// One 8-GPU node in group "default" over [0, 10h): ready, then cordoned from 8h.
History OneNode() {
  History h;
  h.node_groups = {"default"};
  h.owners = {{"alice", "vision", 0}, {"bob", "nlp", 30}};
  h.nodes = {{"gpu-1",
              {{.from = 0, .to = 8 * kHour, .gpus = 8, .node_group = 0},
               {.from = 8 * kHour,
                .to = 10 * kHour,
                .gpus = 8,
                .availability = Availability::kUnavailable,
                .node_group = 0}}}};
  return h;
}

TEST(UsageTable, PreemptedVictimGraceAndRestart) {
  History h = OneNode();
  // alice's LOW attempt holds all 8 GPUs from 0h to 4h; bob's HIGH notice at 3h, so the
  // last hour is grace: 8 GPU-hours lost.
  h.holds.push_back({.node = 0,
                     .owner = 0,
                     .gpus = 0xff,
                     .start = 0,
                     .end = 4 * kHour,
                     .running = 0,
                     .grace_from = 3 * kHour});
  // bob holds GPUs 0-3 from 4h to 6h.
  h.holds.push_back({.node = 0,
                     .owner = 1,
                     .gpus = 0x0f,
                     .start = 4 * kHour,
                     .end = 6 * kHour,
                     .running = 4 * kHour,
                     .grace_from = 6 * kHour});
  // alice's resumed attempt: placed at 6h, running at 7h (restart: 8 GPU-hours lost), ends
  // at 9h, one hour into the cordon (allocated wins over the state).
  h.holds.push_back({.node = 0,
                     .owner = 0,
                     .gpus = 0xff,
                     .start = 6 * kHour,
                     .end = 9 * kHour,
                     .running = 7 * kHour,
                     .grace_from = 9 * kHour,
                     .restart = true});
  auto a = Account(h, {.since = 0, .until = 10 * kHour});
  ASSERT_TRUE(a.ok()) << a.status();
  const std::vector<Row> rows = Group(ToLedger(*a, h), GroupBy::kUser);
  ASSERT_EQ(rows.size(), 3u);  // (unallocated), alice, bob
  EXPECT_EQ(rows[0].key, "(unallocated)");
  // Idle: 4 GPUs x 2h while bob held half the node; unavailable: 8 GPUs x 1h after alice.
  EXPECT_EQ(rows[0].figures.idle, 8 * kHour);
  EXPECT_EQ(rows[0].figures.unavailable, 8 * kHour);
  EXPECT_EQ(rows[1].key, "alice");
  EXPECT_EQ(rows[1].figures.allocated, 8 * 7 * kHour);
  EXPECT_EQ(rows[1].figures.lost_to_preemption, 16 * kHour);
  EXPECT_EQ(rows[2].key, "bob");
  EXPECT_EQ(rows[2].figures.allocated, 8 * kHour);
  EXPECT_EQ(rows[2].figures.lost_to_preemption, 0);
  EXPECT_EQ(a->capacity_per_node[0], 80 * kHour);

  const std::vector<Row> tiers = Group(ToLedger(*a, h), GroupBy::kTier);
  ASSERT_EQ(tiers.size(), 3u);
  EXPECT_EQ(tiers[0].key, "(unallocated)");
  EXPECT_EQ(tiers[1].key, "HIGH");
  EXPECT_EQ(tiers[2].key, "LOW");
  const std::vector<Row> ng = Group(ToLedger(*a, h), GroupBy::kNodeGroup);
  ASSERT_EQ(ng.size(), 1u);
  EXPECT_EQ(ng[0].figures.allocated + ng[0].figures.idle + ng[0].figures.unavailable, 80 * kHour);
}

TEST(UsageTable, HourlyBucketsSplitASpanExactly) {
  History h = OneNode();
  h.holds.push_back({.node = 0,
                     .owner = 1,
                     .gpus = 0x1,
                     .start = kHour / 2,
                     .end = 2 * kHour,
                     .running = 0,
                     .grace_from = 2 * kHour});
  auto a = Account(h, {.since = 0, .until = 2 * kHour, .bucket = kHour});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->cells.at(CellKey{0, 1, 0}).allocated, kHour / 2);
  EXPECT_EQ(a->cells.at(CellKey{1, 1, 0}).allocated, kHour);
  EXPECT_EQ(a->cells.at(CellKey{0, kUnallocated, 0}).idle, 8 * kHour - kHour / 2);
}

TEST(UsageTable, BadInputIsInvalidArgument) {
  History h = OneNode();
  EXPECT_EQ(Account(h, {.since = 5, .until = 5}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Account(h, {.since = 0, .until = 10, .bucket = 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  h.holds.push_back({.node = 7, .owner = 0, .gpus = 1, .start = 0, .end = 1});
  EXPECT_EQ(Account(h, {.since = 0, .until = 10}).status().code(),
            absl::StatusCode::kInvalidArgument);
  History overlapping = OneNode();
  overlapping.nodes[0].spans[1].from = 1;
  EXPECT_EQ(Account(overlapping, {.since = 0, .until = 10}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseGroupBy("host").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseGroupBy("node-group"), GroupBy::kNodeGroup);
}

}  // namespace
}  // namespace hai::usage
