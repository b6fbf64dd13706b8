// PublishedViews: what the API reads. The queue's order, a chain's pending reason, a
// container's reason from the Jupyter pass, and a publish replacing the views at once.
#include "scheduler/loop/published_views.h"

#include <gtest/gtest.h>

namespace hai {
namespace {

policy::Task TaskOf(int64_t chain, const std::string& user) {
  policy::Task t;
  t.attempt_id = chain * 10;
  t.chain_id = chain;
  t.user = user;
  t.group = "g";
  t.nodes = 2;
  return t;
}

policy::Pending PendingAt(policy::Tier tier, int position) {
  policy::Pending p;
  p.tier = tier;
  p.position_in_tier = position;
  p.reason = policy::PendingReason::kWaitingForNodes;
  p.missing_nodes = 1;
  return p;
}

std::shared_ptr<PendingTable> Table() {
  auto table = std::make_shared<PendingTable>();
  table->Add(PendingAt(policy::Tier::kNormal, 2), TaskOf(1, "alice"), "one");
  table->Add(PendingAt(policy::Tier::kHigh, 1), TaskOf(2, "bob"), "two");
  table->Add(PendingAt(policy::Tier::kNormal, 1), TaskOf(3, "carol"), "three");
  return table;
}

class FakeJupyter final : public JupyterPendingSource {
 public:
  std::optional<JupyterPendingView> PendingFor(int64_t chain_id) const override {
    if (chain_id != 9) return std::nullopt;
    return JupyterPendingView{"OUT_OF_QUOTA", "jupyter quota in use", 1};
  }
};

TEST(PublishedViewsTest, NothingBeforeTheFirstPass) {
  PublishedViews views;
  EXPECT_EQ(views.LastPassAt(), absl::InfinitePast());
  EXPECT_TRUE(views.Queue().empty());
  EXPECT_EQ(views.Nodes(), nullptr);
  EXPECT_FALSE(views.PendingFor(1).has_value());
}

TEST(PublishedViewsTest, TheQueueIsByTierThenPosition) {
  PublishedViews views;
  const absl::Time at = absl::FromUnixSeconds(1800000000);
  views.Publish(Table(), QuotaView{}, at);
  const std::vector<PendingView> q = views.Queue();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].chain_id, 2);
  EXPECT_EQ(q[1].chain_id, 3);
  EXPECT_EQ(q[2].chain_id, 1);
  EXPECT_EQ(q[1].name, "three");
  EXPECT_EQ(q[1].user, "carol");
  EXPECT_EQ(views.LastPassAt(), at);
}

TEST(PublishedViewsTest, AChainsReasonAndAContainersReasonAreFoundAlike) {
  PublishedViews views;
  FakeJupyter jupyter;
  views.SetJupyterSource(&jupyter);
  views.Publish(Table(), QuotaView{}, absl::Now());
  std::optional<PendingView> one = views.PendingFor(1);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->reason, "WAITING_FOR_NODES");
  EXPECT_FALSE(one->detail.empty());
  std::optional<PendingView> container = views.PendingFor(9);
  ASSERT_TRUE(container.has_value());
  EXPECT_EQ(container->reason, "OUT_OF_QUOTA");
  EXPECT_EQ(container->detail, "jupyter quota in use");
  EXPECT_FALSE(views.PendingFor(4).has_value());
}

TEST(PublishedViewsTest, APublishReplacesTheViewsAReaderHolds) {
  PublishedViews views;
  views.Publish(Table(), QuotaView{}, absl::Now());
  QuotaView quota;
  quota.quota[{"alice", "g", policy::Tier::kNormal}] = 4;
  std::shared_ptr<const QuotaView> before = views.QuotaShared();
  views.Publish(std::make_shared<PendingTable>(), quota, absl::Now());
  EXPECT_TRUE(before->quota.empty()) << "a reader's copy does not change under it";
  EXPECT_EQ(views.QuotaShared()->quota.size(), 1u);
  EXPECT_TRUE(views.Queue().empty());
}

}  // namespace
}  // namespace hai
