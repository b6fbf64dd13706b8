// JudgeManager: a recorded manager pid is trusted (and killed when hung) only on the host
// that recorded it; elsewhere only the heartbeat counts.
#include "scheduler/loop/manager_liveness.h"

#include <gtest/gtest.h>

#include <set>

namespace hai {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'000'000);
const absl::Duration kTimeout = absl::Seconds(30);

store::AttemptRow Row(std::optional<int> pid, std::string host, absl::Duration heartbeat_age) {
  store::AttemptRow a;
  a.manager_pid = pid;
  a.manager_host = std::move(host);
  a.manager_heartbeat_at = kNow - heartbeat_age;
  return a;
}

// Pids 100 and 200 exist on this host; nothing else does.
bool Exists(pid_t pid) { return std::set<pid_t>{100, 200}.count(pid) > 0; }

ManagerVerdict Judge(const store::AttemptRow& a) {
  return JudgeManager(a, kNow, kTimeout, "haid-host", &Exists);
}

TEST(ManagerLivenessTest, OnThisHostThePidAndTheHeartbeatMustAgree) {
  EXPECT_EQ(Judge(Row(100, "haid-host", absl::Seconds(1))), ManagerVerdict::kAlive);
  // Process exists but silent: hung, to be killed and replaced.
  EXPECT_EQ(Judge(Row(100, "haid-host", absl::Seconds(31))), ManagerVerdict::kHung);
  // Fresh heartbeat but the process is gone (died right after beating).
  EXPECT_EQ(Judge(Row(300, "haid-host", absl::Seconds(1))), ManagerVerdict::kGone);
  EXPECT_EQ(Judge(Row(300, "haid-host", absl::Seconds(31))), ManagerVerdict::kGone);
}

TEST(ManagerLivenessTest, AnEmptyRecordedHostCountsAsThisHost) {
  EXPECT_EQ(Judge(Row(100, "", absl::Seconds(31))), ManagerVerdict::kHung);
  EXPECT_EQ(Judge(Row(300, "", absl::Seconds(1))), ManagerVerdict::kGone);
}

TEST(ManagerLivenessTest, APidFromAnotherHostIsNeitherTrustedNorKilled) {
  // Pid 100 exists here, but it is some other process: the manager ran in an earlier pod.
  // Stale heartbeat: gone (replace it), never hung (which would SIGKILL pid 100 here).
  EXPECT_EQ(Judge(Row(100, "old-pod", absl::Seconds(31))), ManagerVerdict::kGone);
  // Fresh heartbeat from another host: a live manager there, whatever pid 300 is here.
  EXPECT_EQ(Judge(Row(300, "old-pod", absl::Seconds(1))), ManagerVerdict::kAlive);
}

TEST(ManagerLivenessTest, NoPidOrNoHeartbeatMeansGoneOrSilent) {
  EXPECT_EQ(Judge(Row(std::nullopt, "haid-host", absl::Seconds(1))), ManagerVerdict::kGone);
  store::AttemptRow never_beat = Row(100, "haid-host", absl::ZeroDuration());
  never_beat.manager_heartbeat_at.reset();
  EXPECT_EQ(Judge(never_beat), ManagerVerdict::kHung);
  never_beat.manager_host = "old-pod";
  EXPECT_EQ(Judge(never_beat), ManagerVerdict::kGone);
}

}  // namespace
}  // namespace hai
