// The Scheduler under leader election (issue 18), one pass at a time on in-memory fakes: a
// standby decides and publishes but writes and launches nothing; a leader's writes carry its
// epoch; a write refused for a later epoch ends the pass and steps down, touching no manager.
#include <gtest/gtest.h>

#include "scheduler/loop/scheduler.h"
#include "test/unit/loop/builders.h"
#include "test/unit/loop/fakes.h"

namespace hai {
namespace {

using testing::FakeLoopStore;
using testing::FakeNotifier;
using testing::FakeProcesses;
using testing::Host;
using testing::Queued;

// What haid's elector would say.
class FakeLeadership final : public Leadership {
 public:
  int64_t epoch = 0;
  std::vector<std::pair<int64_t, int64_t>> step_downs;  // (epoch, newer)
  int64_t Epoch() const override { return epoch; }
  void StepDown(int64_t from, int64_t newer, const std::string&) override {
    step_downs.emplace_back(from, newer);
    if (epoch == from) epoch = 0;
  }
};

class LeadershipPassTest : public ::testing::Test {
 protected:
  LeadershipPassTest() {
    store_.hosts = {Host("n0"), Host("n1")};
    for (const char* tier : {"LOW", "NORMAL", "HIGH"}) {
      store_.quota_rows.push_back({"public", "", absl::StrCat("node-g-", tier), 8, {}, true});
    }
    store_.user_groups = {{"alice", {}}};
    scheduler_ = std::make_unique<Scheduler>(store_, config_, processes_, notifier_, metrics_);
    scheduler_->SetLeadership(&leadership_);
  }

  FakeLoopStore store_;
  FakeNotifier notifier_;
  FakeProcesses processes_;
  Metrics metrics_;
  Config config_;
  FakeLeadership leadership_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(LeadershipPassTest, AStandbyPublishesTheQueueButActsOnNothing) {
  store_.Put(Queued(1, 10, /*nodes=*/3));  // never fits: a pending reason to publish
  store_.Put(Queued(2));                   // would start
  scheduler_->RunPass();
  EXPECT_TRUE(store_.writes.empty());
  EXPECT_TRUE(processes_.launched.empty());
  EXPECT_EQ(store_.fenced_epoch(), 0) << "a stray write would be refused too";
  std::optional<PendingView> p = scheduler_->views().PendingFor(101);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->reason, "NEVER_FITS");
  EXPECT_EQ(metrics_.scheduler_passes, 1);

  // Elected: the same memory, now acted on, with the epoch on every write.
  leadership_.epoch = 1;
  scheduler_->RunPass();
  EXPECT_EQ(store_.fenced_epoch(), 1);
  EXPECT_EQ(store_.scheduled, std::vector<int64_t>{2});
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{2});
}

TEST_F(LeadershipPassTest, AWriteRefusedForALaterEpochStepsDownAndTouchesNoManager) {
  leadership_.epoch = 1;
  store_.Put(Queued(1));
  store_.Put(Queued(2));
  store_.lease_epoch = 2;  // another replica was elected while this one decided
  scheduler_->RunPass();
  EXPECT_TRUE(store_.scheduled.empty());
  EXPECT_EQ(store_.refused_writes, 2) << "the first refusal asks Postgres; the rest too here";
  EXPECT_TRUE(processes_.launched.empty());
  EXPECT_EQ(leadership_.step_downs, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}}));
  EXPECT_EQ(metrics_.fenced_writes, 1);
  EXPECT_EQ(leadership_.epoch, 0);

  // Now a standby: it decides again and writes nothing.
  const int refused = store_.refused_writes;
  scheduler_->RunPass();
  EXPECT_EQ(store_.refused_writes, refused);
  EXPECT_TRUE(store_.scheduled.empty());
}

TEST_F(LeadershipPassTest, ALeaderWhoseEpochEndedBeforeSupervisingLaunchesNothing) {
  // Nothing to write this pass, so only the check before supervision can notice.
  leadership_.epoch = 1;
  store_.Put(testing::Running(1, {"n0"}, 10, /*manager_pid=*/4000, absl::Now()));  // pid gone
  store_.lease_epoch = 3;
  scheduler_->RunPass();
  EXPECT_TRUE(processes_.launched.empty()) << "its manager would be launched by a leader";
  EXPECT_EQ(leadership_.step_downs, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}}));

  // The current leader does launch it.
  leadership_.epoch = 3;
  scheduler_->RunPass();
  EXPECT_EQ(processes_.launched, std::vector<int64_t>{1});
}

}  // namespace
}  // namespace hai
