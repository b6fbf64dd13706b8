// NodeHealth: a node marked unhealthy has every task still on it suspended (and its manager
// told); a task that ended meanwhile is skipped; a threshold of 0 turns the check off.
#include "scheduler/loop/node_health.h"

#include <gtest/gtest.h>

#include "test/unit/loop/builders.h"
#include "test/unit/loop/fakes.h"

namespace hai {
namespace {

using testing::FakeLoopStore;
using testing::FakeNotifier;
using testing::Running;

TEST(NodeHealthTest, TasksOnAnUnhealthyNodeAreSuspendedAndTheirManagersTold) {
  FakeLoopStore store;
  FakeNotifier notifier;
  store.Put(Running(1, {"n0", "n1"}));
  store.Put(Running(2, {"n0"}));
  store.unhealthy_next = {{"n0", {1, 2}}};
  NodeHealth health(store, notifier, 3);
  EXPECT_TRUE(health.Check());
  ASSERT_EQ(store.suspends.size(), 2u);
  EXPECT_EQ(store.suspends[0].reason, "node n0 is unhealthy");
  EXPECT_EQ(store.suspends[0].actor, "scheduler");
  EXPECT_EQ(store.suspends[0].preemptor_chain, 0);
  EXPECT_EQ(notifier.told.size(), 2u);
  EXPECT_FALSE(health.Check()) << "nothing new marked";
}

TEST(NodeHealthTest, ATaskThatEndedMeanwhileIsNotTold) {
  FakeLoopStore store;
  FakeNotifier notifier;
  store.Put(Running(1, {"n0"}));
  store.unhealthy_next = {{"n0", {1, 2}}};  // 2 ended between the two statements
  NodeHealth health(store, notifier, 3);
  EXPECT_TRUE(health.Check());
  ASSERT_EQ(notifier.told.size(), 1u);
  EXPECT_EQ(notifier.told[0].first, 1);
}

TEST(NodeHealthTest, ThresholdZeroNeverLooks) {
  FakeLoopStore store;
  FakeNotifier notifier;
  store.unhealthy_next = {{"n0", {}}};
  NodeHealth health(store, notifier, 0);
  EXPECT_FALSE(health.Check());
  EXPECT_EQ(store.mark_unhealthy_calls, 0);
}

TEST(NodeHealthTest, PostgresDownMarksNothing) {
  FakeLoopStore store;
  FakeNotifier notifier;
  store.unreachable = true;
  NodeHealth health(store, notifier, 3);
  EXPECT_FALSE(health.Check());
  EXPECT_TRUE(notifier.told.empty());
}

}  // namespace
}  // namespace hai
