// LocalPodRuntime with the real rank supervisor (hai-manager --rank-supervisor): Start is
// idempotent per rank, so a rank is started at most once per attempt however many managers
// try (pod_runtime.h). The rank's own process creates its pid file exclusively before it runs
// anything; a second Start, by this runtime or a successor's, adopts the rank it names.
#include "manager/runtime/local/local_runtime.h"

#include <signal.h>
#include <sys/prctl.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "test/integration/manager/process_helpers.h"
#include "test/support/test_env.h"

namespace hai::testing {
namespace {

using manager::LocalPodRuntime;
using manager::PodSpec;
using manager::PodStatus;

class LocalRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  void SetUp() override { dir_ = MakeTempDir("hai-local-runtime"); }
  void TearDown() override {
    for (pid_t p : started_) ::kill(-p, SIGKILL);
  }

  // Rank 0 of an attempt whose command records each start in `starts` and runs until
  // `release` exists.
  PodSpec Spec() {
    PodSpec spec;
    spec.rank = 0;
    spec.argv = {"/bin/sh", "-c",
                 absl::StrCat("echo started >> '", dir_, "/starts'; while [ ! -e '", dir_,
                              "/release' ]; do sleep 0.05; done")};
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.cwd = dir_;
    spec.log_path = dir_ + "/rank-0.log";
    spec.exit_path = dir_ + "/rank-0.exit";
    spec.pid_path = dir_ + "/rank-0.pid";
    return spec;
  }
  std::string Binary() const { return BinDir() + "/hai-manager"; }
  // Polls `runtime` until the rank ended and nothing of it is left. Not WaitUntil: that reaps
  // every child, the runtime's own supervisor included, which only the runtime may reap.
  static bool WaitEnded(LocalPodRuntime& runtime) {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (absl::Now() < deadline) {
      auto st = runtime.Poll(0);
      if (st.ok() && st->phase == PodStatus::Phase::kExited && !st->alive) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }
  int Starts() {
    const std::string s = ReadFile(dir_ + "/starts");
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }

  std::string dir_;
  std::vector<pid_t> started_;
};

TEST_F(LocalRuntimeTest, SecondStartOfARankAdoptsTheFirst) {
  LocalPodRuntime first(Binary());
  auto id = first.Start(Spec());
  ASSERT_TRUE(id.ok()) << id.status();
  started_.push_back(static_cast<pid_t>(*id));
  EXPECT_EQ(ReadFile(dir_ + "/rank-0.pid"), absl::StrCat(*id, "\n"));

  // A successor manager (its own runtime) starting the same rank gets the same one.
  LocalPodRuntime successor(Binary());
  auto again = successor.Start(Spec());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *id);
  // So does a second Start by the same runtime.
  auto third = first.Start(Spec());
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(*third, *id);

  const absl::Time deadline = absl::Now() + kDeadline;
  while (Starts() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  WriteFile(dir_ + "/release", "");
  // The first runtime reaps its supervisor; the successor reads the same end.
  ASSERT_TRUE(WaitEnded(first));
  ASSERT_TRUE(WaitEnded(successor));
  auto st = successor.Poll(0);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->exit_code, 0);
  EXPECT_EQ(Starts(), 1) << "the command ran more than once";
}

TEST_F(LocalRuntimeTest, RankThatRanAndEndedIsNotStartedAgain) {
  LocalPodRuntime first(Binary());
  WriteFile(dir_ + "/release", "");
  auto id = first.Start(Spec());
  ASSERT_TRUE(id.ok()) << id.status();
  started_.push_back(static_cast<pid_t>(*id));
  ASSERT_TRUE(WaitEnded(first));
  // The manager died before recording the rank; its successor's Start finds the ended rank.
  LocalPodRuntime successor(Binary());
  auto again = successor.Start(Spec());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *id);
  auto st = successor.Poll(0);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->phase, PodStatus::Phase::kExited);
  EXPECT_EQ(Starts(), 1);
}

}  // namespace
}  // namespace hai::testing
