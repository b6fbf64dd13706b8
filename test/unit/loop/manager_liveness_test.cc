// JudgeManager: a recorded manager pid is trusted (and killed when hung) only on the host
// that recorded it and only while the process behind it is that manager; a process that
// cannot be identified counts as alive; silence is Postgres' measure and counts only when
// haid has had Postgres for a whole timeout. MatchManager: the identity rules on /proc.
#include "scheduler/loop/manager_liveness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "scheduler/launcher/manager_identity.h"

namespace hai {
namespace {

const absl::Duration kTimeout = absl::Seconds(30);

store::ManagerLiveness Row(std::optional<int> pid, std::string host, absl::Duration silence) {
  store::ManagerLiveness l;
  l.pid = pid;
  l.host = std::move(host);
  l.silence = silence;
  return l;
}

// On this host: pids 100 and 200 are managers, 400 is a process that reuses a manager's pid,
// 500 cannot be read; nothing else exists.
ManagerMatch Identify(const RecordedManager& m) {
  if (m.pid == 400) return ManagerMatch::kNotIt;
  if (m.pid == 500) return ManagerMatch::kCannotTell;
  return std::set<pid_t>{100, 200}.count(m.pid) > 0 ? ManagerMatch::kIsIt : ManagerMatch::kNotIt;
}

ManagerVerdict Judge(const store::ManagerLiveness& l, bool silence_counts = true) {
  return JudgeManager(l, 7, {kTimeout, silence_counts, "haid-host"}, &Identify);
}

TEST(ManagerLivenessTest, OnThisHostTheProcessAndTheHeartbeatMustAgree) {
  EXPECT_EQ(Judge(Row(100, "haid-host", absl::Seconds(1))), ManagerVerdict::kAlive);
  // Process is that manager but silent: hung, to be killed and replaced.
  EXPECT_EQ(Judge(Row(100, "haid-host", absl::Seconds(31))), ManagerVerdict::kHung);
  // Fresh heartbeat but the process is gone (died right after beating).
  EXPECT_EQ(Judge(Row(300, "haid-host", absl::Seconds(1))), ManagerVerdict::kGone);
  EXPECT_EQ(Judge(Row(300, "haid-host", absl::Seconds(31))), ManagerVerdict::kGone);
}

TEST(ManagerLivenessTest, AReusedPidIsGoneNeverHung) {
  // The pid names another process now: the manager is gone (replace it), and that process
  // is not the manager, so it is never hung (which would SIGKILL it).
  EXPECT_EQ(Judge(Row(400, "haid-host", absl::Seconds(31))), ManagerVerdict::kGone);
  EXPECT_EQ(Judge(Row(400, "haid-host", absl::Seconds(1))), ManagerVerdict::kGone);
}

TEST(ManagerLivenessTest, AProcessThatCannotBeIdentifiedCountsAsAlive) {
  EXPECT_EQ(Judge(Row(500, "haid-host", absl::Seconds(31))), ManagerVerdict::kAlive);
  EXPECT_EQ(Judge(Row(500, "haid-host", absl::Hours(1))), ManagerVerdict::kAlive);
}

TEST(ManagerLivenessTest, SilenceDoesNotCountUntilHaidHasHadPostgresForATimeout) {
  EXPECT_EQ(Judge(Row(100, "haid-host", absl::Hours(1)), false), ManagerVerdict::kAlive);
  EXPECT_EQ(Judge(Row(300, "old-pod", absl::Hours(1)), false), ManagerVerdict::kAlive);
  // A process that is not the manager is gone whatever the heartbeat says.
  EXPECT_EQ(Judge(Row(400, "haid-host", absl::Hours(1)), false), ManagerVerdict::kGone);
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

TEST(ManagerLivenessTest, NoPidMeansGone) {
  EXPECT_EQ(Judge(Row(std::nullopt, "haid-host", absl::Seconds(1))), ManagerVerdict::kGone);
}

proc::Process Found(int64_t start, std::vector<std::string> argv) {
  proc::Process p;
  p.lookup = proc::Lookup::kFound;
  p.stat.start_time = start;
  p.argv = std::move(argv);
  return p;
}

TEST(MatchManagerTest, PidStartTimeAndCommandLineMustAllMatch) {
  const RecordedManager m{.pid = 42, .attempt_id = 7, .start_time = 1000};
  const std::vector<std::string> cmd = {"/opt/hai/bin/hai-manager", "--config", "c.toml",
                                        "--attempt", "7"};
  EXPECT_EQ(MatchManager(Found(1000, cmd), m), ManagerMatch::kIsIt);
  // Started later: the kernel gave the number to a new process.
  EXPECT_EQ(MatchManager(Found(2000, cmd), m), ManagerMatch::kNotIt);
  // The same start time but another program (e.g. `sleep`), or another attempt's manager.
  EXPECT_EQ(MatchManager(Found(1000, {"sleep", "600"}), m), ManagerMatch::kNotIt);
  EXPECT_EQ(MatchManager(Found(1000, {"hai-manager", "--attempt", "8"}), m), ManagerMatch::kNotIt);
  EXPECT_EQ(MatchManager(Found(1000, {"hai-manager", "--attempt=7"}), m), ManagerMatch::kIsIt);
  EXPECT_EQ(MatchManager(Found(1000, {"/usr/libexec/hai-manager-2", "--attempt", "7"}), m),
            ManagerMatch::kIsIt);
  EXPECT_EQ(MatchManager(Found(1000, {"/bin/sh", "hai-manager", "--attempt", "7"}), m),
            ManagerMatch::kNotIt);
  // A kernel thread (no command line).
  EXPECT_EQ(MatchManager(Found(1000, {}), m), ManagerMatch::kNotIt);
  // Rows from before the start time was recorded: the command line decides.
  EXPECT_EQ(MatchManager(Found(5, cmd), {.pid = 42, .attempt_id = 7}), ManagerMatch::kIsIt);
}

TEST(MatchManagerTest, GoneIsNotItAndUnreadableCannotTell) {
  const RecordedManager m{.pid = 42, .attempt_id = 7, .start_time = 1000};
  proc::Process p;
  p.lookup = proc::Lookup::kGone;
  EXPECT_EQ(MatchManager(p, m), ManagerMatch::kNotIt);
  p.lookup = proc::Lookup::kUnknown;
  EXPECT_EQ(MatchManager(p, m), ManagerMatch::kCannotTell);
}

TEST(ProcTest, ParseStatCountsFieldsAfterTheLastParenthesis) {
  // The command name may hold spaces and parentheses.
  const std::string stat =
      "1234 (evil) (name) S 1 1230 1230 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 "
      "100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0";
  std::optional<proc::Stat> s = proc::ParseStat(stat);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->pgrp, 1230);
  EXPECT_EQ(s->start_time, 98765);
  EXPECT_FALSE(proc::ParseStat("garbage").has_value());
}

TEST(ProcTest, ThisProcessReadsAsFoundWithItsOwnStartTime) {
  proc::Process self = proc::Read(::getpid());
  ASSERT_EQ(self.lookup, proc::Lookup::kFound);
  EXPECT_EQ(self.stat.start_time, proc::SelfStartTime());
  EXPECT_FALSE(self.argv.empty());
  EXPECT_EQ(proc::Read(0).lookup, proc::Lookup::kGone);
}

}  // namespace
}  // namespace hai
