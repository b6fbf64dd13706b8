// /metrics pieces without services: histogram exposition (cumulative buckets, +Inf = count)
// and the cluster gauges' bounded labels (top-N users plus "other", unknown groups as
// "other", every node state per group).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/loop/cluster_gauges.h"
#include "scheduler/metrics.h"

namespace hai {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Histogram, RendersCumulativeBucketsSumAndCount) {
  Histogram h({0.1, 1});
  h.Observe(absl::Milliseconds(50));
  h.Observe(absl::Milliseconds(500));
  h.Observe(absl::Seconds(5));
  h.Observe(absl::Seconds(-1));  // counted as 0
  std::string out;
  h.Render(&out, "x_seconds", "tier=\"LOW\"");
  EXPECT_EQ(out,
            "x_seconds_bucket{tier=\"LOW\",le=\"0.1\"} 2\n"
            "x_seconds_bucket{tier=\"LOW\",le=\"1\"} 3\n"
            "x_seconds_bucket{tier=\"LOW\",le=\"+Inf\"} 4\n"
            "x_seconds_sum{tier=\"LOW\"} 5.55\n"
            "x_seconds_count{tier=\"LOW\"} 4\n");
}

policy::Task Running(const std::string& user, int gpus, policy::Tier tier = policy::Tier::kLow) {
  policy::Task t;
  t.user = user;
  t.group = "default";
  t.tier = tier;
  policy::RankPlacement p{.node = "n1"};
  for (int g = 0; g < gpus; ++g) p.gpus.push_back(g);
  t.placement.push_back(p);
  return t;
}

TEST(ClusterGauges, TopUsersAndOtherGroupsAreBounded) {
  std::vector<store::HostRow> hosts(2);
  hosts[0].node = {.name = "n1", .group = "default", .gpus = 8};
  hosts[1].node = {
      .name = "n2", .group = "default", .gpus = 8, .state = policy::NodeState::kCordoned};
  policy::Snapshot snap;
  snap.running = {Running("alice", 4), Running("bob", 2), Running("carol", 1),
                  Running("dave", 1, policy::Tier::kHigh)};
  policy::Task waiting;
  waiting.group = "typo-group";  // a group no host has: label "other"
  snap.queued = {waiting};
  std::vector<policy::Pending> pending(1);
  pending[0].queued_index = 0;
  pending[0].reason = policy::PendingReason::kNoSuchGroup;
  pending[0].tier = policy::Tier::kNormal;
  OpenAttemptMap open;
  const std::string text = RenderClusterGauges(
      {.hosts = hosts, .snapshot = snap, .pending = pending, .open = open, .top_users = 2});
  EXPECT_THAT(text,
              HasSubstr("hai_gpus_allocated{group=\"default\",tier=\"LOW\",user=\"alice\"} 4\n"));
  EXPECT_THAT(text,
              HasSubstr("hai_gpus_allocated{group=\"default\",tier=\"LOW\",user=\"bob\"} 2\n"));
  // carol and dave are past the top 2: summed per group and tier as "other".
  EXPECT_THAT(text,
              HasSubstr("hai_gpus_allocated{group=\"default\",tier=\"LOW\",user=\"other\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("hai_gpus_allocated{group=\"default\",tier=\"HIGH\",user=\"other\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("carol")));
  EXPECT_THAT(text, Not(HasSubstr("typo-group")));
  EXPECT_THAT(
      text,
      HasSubstr("hai_queued_tasks{group=\"other\",tier=\"NORMAL\",reason=\"NO_SUCH_GROUP\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hai_nodes{group=\"default\",state=\"cordoned\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hai_nodes{group=\"default\",state=\"unhealthy\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("hai_node_gpus{group=\"default\",state=\"ready\"} 8\n"));
  EXPECT_THAT(text, HasSubstr("hai_jupyter_containers{state=\"running\"} 0\n"));
}

}  // namespace
}  // namespace hai
