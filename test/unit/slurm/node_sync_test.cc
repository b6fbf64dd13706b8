// hai's hosts follow Slurm's nodes: the plan of one sync pass (scheduler/slurm/node_sync.h).
#include "scheduler/slurm/node_sync.h"

#include <gtest/gtest.h>

namespace hai::slurm {
namespace {

using model::NodeState;

NodeRow Node(const std::string& name, const std::string& state, const std::string& reason = "") {
  NodeRow n;
  n.name = name;
  n.state = state;
  n.health = ParseNodeState(state);
  n.reason = reason;
  n.gpus = 4;
  return n;
}

TEST(SlurmNodeSync, DrainCordonsDownMarksUnhealthyWithSlurmsReason) {
  const std::vector<HostView> hosts = {
      {"a", NodeState::kReady, ""}, {"b", NodeState::kReady, ""}, {"c", NodeState::kReady, ""}};
  SyncPlan plan = PlanNodeSync(hosts,
                               {Node("a", "draining", "disk check"),
                                Node("b", "down*", "Not responding"), Node("c", "idle")},
                               "");
  ASSERT_EQ(plan.changes.size(), 2u);
  EXPECT_EQ(plan.changes[0].node, "a");
  EXPECT_EQ(plan.changes[0].state, NodeState::kCordoned);
  EXPECT_EQ(plan.changes[0].reason, "slurm: draining: disk check");
  EXPECT_EQ(plan.changes[1].node, "b");
  EXPECT_EQ(plan.changes[1].state, NodeState::kUnhealthy);
  EXPECT_EQ(plan.changes[1].reason, "slurm: down*: Not responding");
  EXPECT_TRUE(plan.imports.empty());
}

TEST(SlurmNodeSync, OnlyItsOwnMarksAreUndoneAndAnAdminsStand) {
  const std::vector<HostView> hosts = {
      {"a", NodeState::kCordoned, "slurm: drained: disk check"},  // ours: back to ready
      {"b", NodeState::kCordoned, "admin: rack move"},            // an admin's: kept
      {"c", NodeState::kOffline, ""},                             // kept even when Slurm drains
      {"d", NodeState::kCordoned, "slurm: draining: x"},          // ours: reason follows
  };
  SyncPlan plan = PlanNodeSync(
      hosts,
      {Node("a", "idle"), Node("b", "idle"), Node("c", "drained", "y"), Node("d", "drained", "x")},
      "");
  ASSERT_EQ(plan.changes.size(), 2u);
  EXPECT_EQ(plan.changes[0].node, "a");
  EXPECT_EQ(plan.changes[0].state, NodeState::kReady);
  EXPECT_EQ(plan.changes[0].reason, "");
  EXPECT_EQ(plan.changes[1].node, "d");
  EXPECT_EQ(plan.changes[1].reason, "slurm: drained: x");
  // Nothing to do once hai agrees.
  EXPECT_TRUE(PlanNodeSync({{"d", NodeState::kCordoned, "slurm: drained: x"}},
                           {Node("d", "drained", "x")}, "")
                  .changes.empty());
}

TEST(SlurmNodeSync, ImportsUnknownNodesOnlyWhenAskedTo) {
  EXPECT_TRUE(PlanNodeSync({}, {Node("n1", "idle")}, "").imports.empty());
  SyncPlan plan = PlanNodeSync({}, {Node("n1", "idle")}, "slurm");
  ASSERT_EQ(plan.imports.size(), 1u);
  EXPECT_EQ(plan.imports[0].name, "n1");
  EXPECT_EQ(plan.imports[0].group, "slurm");
  EXPECT_EQ(plan.imports[0].gpus, 4);
}

}  // namespace
}  // namespace hai::slurm
