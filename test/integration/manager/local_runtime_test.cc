// LocalPodRuntime with the real rank supervisor (hai-manager --rank-supervisor): Start is
// idempotent per rank, so a rank is started at most once per attempt however many managers
// try (pod_runtime.h). The rank's own process creates its pid file exclusively before it runs
// anything; a second Start, by this runtime or a successor's, adopts the rank it names.
#include "manager/runtime/local/local_runtime.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "manager/runtime/local/rank_supervisor.h"
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

// Run by a root manager, the user command runs as the rank's uid/gid/groups, without
// capabilities and with no_new_privs; the supervisor (root) is exec'd with a fixed
// environment, so what the submitter put in the rank's environment (LD_PRELOAD, the task
// token) is the user command's only; the rank log is the user's, 0600.
TEST_F(LocalRuntimeTest, RankRunsAsItsUserWithoutPrivileges) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  PodSpec spec = Spec();
  spec.uid = 20001;
  spec.gid = 20002;
  spec.supplementary_gids = {20003};
  spec.env = {"PATH=/usr/bin:/bin", "LD_PRELOAD=/nonexistent/hai-evil.so",
              "HAI_TASK_TOKEN=secret-token"};
  spec.argv = {
      "/bin/sh", "-c",
      absl::StrCat("echo uid=$(id -u) gid=$(id -g) groups=$(id -G); "
                   "grep -E '^(CapEff|CapPrm|NoNewPrivs):' /proc/self/status; "
                   "echo token=$HAI_TASK_TOKEN; kill -9 $PPID || echo kill-supervisor-"
                   "refused; echo started >> '",
                   dir_, "/starts'; while [ ! -e '", dir_, "/release' ]; do sleep 0.05; done")};
  WriteFile(dir_ + "/starts", "");
  ::chmod((dir_ + "/starts").c_str(), 0666);
  LocalPodRuntime runtime(Binary());
  auto id = runtime.Start(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  started_.push_back(static_cast<pid_t>(*id));
  const absl::Time deadline = absl::Now() + kDeadline;
  while (Starts() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(Starts(), 1) << ReadFile(spec.log_path);
  // The supervisor's own environment: none of the rank's.
  std::string environ_text = ReadFile(absl::StrCat("/proc/", *id, "/environ"));
  EXPECT_EQ(environ_text.find("LD_PRELOAD"), std::string::npos) << environ_text;
  EXPECT_EQ(environ_text.find("secret-token"), std::string::npos) << environ_text;
  WriteFile(dir_ + "/release", "");
  ASSERT_TRUE(WaitEnded(runtime));
  auto st = runtime.Poll(0);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->exit_code, 0);
  const std::string log = ReadFile(spec.log_path);
  EXPECT_NE(log.find("[out] uid=20001 gid=20002 groups=20002 20003"), std::string::npos) << log;
  EXPECT_NE(log.find("CapEff:\t0000000000000000"), std::string::npos) << log;
  EXPECT_NE(log.find("CapPrm:\t0000000000000000"), std::string::npos) << log;
  EXPECT_NE(log.find("NoNewPrivs:\t1"), std::string::npos) << log;
  EXPECT_NE(log.find("token=secret-token"), std::string::npos) << log;
  EXPECT_NE(log.find("kill-supervisor-refused"), std::string::npos) << log;
  struct stat info {};
  ASSERT_EQ(::stat(spec.log_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 20001u);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

// A uid with an account on the host gets its HOME, USER and LOGNAME, not haid's (root's).
TEST_F(LocalRuntimeTest, RankOfAnAccountGetsItsHome) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  PodSpec spec = Spec();
  spec.uid = 65534;  // nobody, in every passwd
  spec.gid = 65534;
  spec.env = {"PATH=/usr/bin:/bin", "HOME=/root", "USER=root", "KEEP=1"};
  spec.argv = {"/bin/sh", "-c", "echo home=$HOME user=$USER logname=$LOGNAME keep=$KEEP"};
  LocalPodRuntime runtime(Binary());
  auto id = runtime.Start(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  started_.push_back(static_cast<pid_t>(*id));
  ASSERT_TRUE(WaitEnded(runtime));
  const std::string log = ReadFile(spec.log_path);
  EXPECT_NE(log.find("home=/nonexistent user=nobody logname=nobody keep=1"), std::string::npos)
      << log;
}

// A root manager never runs a rank as root: a user without a uid is refused.
TEST_F(LocalRuntimeTest, RankOfAUserWithoutUidIsRefusedAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  PodSpec spec = Spec();
  spec.uid = 0;
  spec.gid = 0;
  LocalPodRuntime runtime(Binary());
  auto id = runtime.Start(spec);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(Starts(), 0);
}

// `kill -9 0` from the task ends its own process group, not the supervisor: the rank exits
// with 137 and the reason, it is not lost (which would count against the node).
TEST_F(LocalRuntimeTest, TaskKillingItsOwnProcessGroupEndsAsAFailedRank) {
  PodSpec spec = Spec();
  spec.argv = {"/bin/sh", "-c", "sleep 30 & kill -9 0"};
  LocalPodRuntime runtime(Binary());
  auto id = runtime.Start(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  started_.push_back(static_cast<pid_t>(*id));
  const absl::Time deadline = absl::Now() + kDeadline;
  absl::StatusOr<PodStatus> st;
  while (absl::Now() < deadline) {
    st = runtime.Poll(0);
    if (st.ok() && st->phase != PodStatus::Phase::kRunning && !st->alive) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->phase, PodStatus::Phase::kExited) << "the rank was lost";
  EXPECT_EQ(st->exit_code, 137);
  EXPECT_NE(st->reason.find("killed its own process group"), std::string::npos) << st->reason;
  EXPECT_NE(ReadFile(spec.log_path).find("killed by signal 9"), std::string::npos)
      << ReadFile(spec.log_path);
}

// The user command has its own process group; the runtime's SIGTERM still reaches it (the
// supervisor forwards it) and a SIGKILL leaves nothing of either group.
TEST_F(LocalRuntimeTest, SignalsReachTheCommandInItsOwnGroup) {
  PodSpec spec = Spec();
  spec.argv = {"/bin/sh", "-c",
               absl::StrCat("trap 'echo got-term; exit 7' TERM; echo started >> '", dir_,
                            "/starts'; while :; do sleep 0.05; done")};
  LocalPodRuntime runtime(Binary());
  auto id = runtime.Start(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  started_.push_back(static_cast<pid_t>(*id));
  absl::Time deadline = absl::Now() + kDeadline;
  while (Starts() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  const std::string pgid_text = ReadFile(manager::TaskPgidPath(spec.exit_path));
  const int task_group = std::atoi(pgid_text.c_str());
  ASSERT_GT(task_group, 1) << pgid_text;
  EXPECT_NE(task_group, *id) << "the command must not share the supervisor's group";
  ASSERT_TRUE(runtime.Signal(0, manager::PodSignal::kTerminate).ok());
  ASSERT_TRUE(WaitEnded(runtime)) << ReadFile(spec.log_path);
  auto st = runtime.Poll(0);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->exit_code, 7) << ReadFile(spec.log_path);
  EXPECT_TRUE(st->reason.empty()) << st->reason;

  // SIGKILL: both groups go.
  std::filesystem::remove(spec.pid_path);
  std::filesystem::remove(spec.exit_path);
  std::filesystem::remove(dir_ + "/starts");
  spec.argv = {"/bin/sh", "-c", absl::StrCat("echo started >> '", dir_, "/starts'; sleep 600")};
  LocalPodRuntime second(Binary());
  id = second.Start(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  started_.push_back(static_cast<pid_t>(*id));
  deadline = absl::Now() + kDeadline;
  while (Starts() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  const int killed_group = std::atoi(ReadFile(manager::TaskPgidPath(spec.exit_path)).c_str());
  ASSERT_GT(killed_group, 1);
  ASSERT_TRUE(second.Signal(0, manager::PodSignal::kKill).ok());
  // The command's processes were orphaned to this test (a subreaper): reap them, only them.
  bool gone = false;
  deadline = absl::Now() + kDeadline;
  while (!gone && absl::Now() < deadline) {
    while (::waitpid(-killed_group, nullptr, WNOHANG) > 0) {
    }
    auto p = second.Poll(0);
    gone = p.ok() && !p->alive;
    if (!gone) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(gone);
  EXPECT_TRUE(GroupGone(killed_group));
}

}  // namespace
}  // namespace hai::testing
