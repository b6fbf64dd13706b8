// haid's side of fencing (issue 15), end to end with real processes: a recorded manager pid
// that now names another process is neither trusted nor killed; a Postgres outage longer
// than the heartbeat timeout kills no manager and loses no task; an attempt failed for lost
// managers has its ranks ended before its GPUs are free again.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/proc.h"
#include "test/e2e/harness.h"

extern char** environ;

namespace hai::testing {
namespace {

using ::testing::HasSubstr;

// The chain's newest attempt id and one column of it, from Postgres.
int64_t AttemptOf(Cluster& c, int64_t chain_id) {
  int64_t id = 0;
  (void)absl::SimpleAtoi(c.db().Query(absl::StrCat(
                             "SELECT max(attempt_id) FROM attempts WHERE chain_id = ", chain_id)),
                         &id);
  return id;
}
std::string AttemptField(Cluster& c, int64_t attempt_id, const std::string& column) {
  return c.db().Query(
      absl::StrCat("SELECT ", column, " FROM attempts WHERE attempt_id = ", attempt_id));
}
int ManagerPid(Cluster& c, int64_t attempt_id) {
  int pid = 0;
  (void)absl::SimpleAtoi(AttemptField(c, attempt_id, "manager_pid"), &pid);
  return pid;
}
int RankGroup(Cluster& c, int64_t attempt_id) {
  int pid = 0;
  (void)absl::SimpleAtoi(c.db().Query(absl::StrCat("SELECT pid FROM pods WHERE attempt_id = ",
                                                   attempt_id, " AND rank = 0")),
                         &pid);
  return pid;
}
// Whether a live (non-zombie) process of the group remains: kill(-pgid, 0) also finds
// zombies, which an orphan's reaper may leave for a while.
bool GroupExists(int pgid) {
  if (pgid <= 0) return false;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(e.path().filename().string(), &pid)) continue;
    const proc::Process p = proc::Read(pid);
    if (p.lookup == proc::Lookup::kFound && p.stat.pgrp == pgid) return true;
  }
  return false;
}

// A task that runs until `marker` exists.
std::string WaitScript(Cluster& c, const std::string& marker) {
  return c.WriteScript("wait.py",
                       "import os, time\n"
                       "print('started', flush=True)\n"
                       "while not os.path.exists('" +
                           marker +
                           "'):\n"
                           "    time.sleep(0.05)\n"
                           "print('finished')\n");
}

int64_t Submit(Cluster& c, const std::string& script, int n = 1) {
  return c.Submit("alice", script, absl::StrCat("-n ", n));
}

// ---- a recorded pid that is not the manager any more

TEST(Fencing, ASleepWhosePidIsRecordedAsAStaleManagerSurvivesHaidsStart) {
  Cluster c(1, 2, "");
  c.SetSchedulerKey("manager_timeout_s", "3");
  c.AddUser("alice", "alice-token");
  c.StartDaemon();
  const std::string marker = c.dir() + "/go";
  const int64_t chain = Submit(c, WaitScript(c, marker));
  ASSERT_TRUE(WaitFor([&] { return c.CurrentState(chain) == "running"; }, 20000));
  const int64_t attempt = AttemptOf(c, chain);
  const int manager = ManagerPid(c, attempt);
  ASSERT_GT(manager, 0);
  // The manager recorded its identity: pid and process start time.
  EXPECT_EQ(AttemptField(c, attempt, "manager_start_time"),
            std::to_string(proc::Read(manager).stat.start_time));
  // haid and its manager die; an unrelated process gets recorded as the manager (as when
  // the kernel hands the dead manager's number to a new process), silent for an hour.
  c.KillDaemon();
  ASSERT_EQ(::kill(manager, SIGKILL), 0);
  pid_t sleeper = 0;
  char sleep_bin[] = "/bin/sleep";
  char arg[] = "600";
  char* argv[] = {sleep_bin, arg, nullptr};
  ASSERT_EQ(posix_spawn(&sleeper, argv[0], nullptr, nullptr, argv, environ), 0);
  c.db().Exec(absl::StrCat("UPDATE attempts SET manager_pid = ", sleeper,
                           ", manager_heartbeat_at = now() - interval '1 hour' "
                           "WHERE attempt_id = ",
                           attempt));
  c.StartDaemon();
  // haid starts a manager of its own, which adopts the rank...
  ASSERT_TRUE(WaitFor(
      [&] {
        const int pid = ManagerPid(c, attempt);
        return pid > 0 && pid != sleeper;
      },
      20000))
      << c.DaemonLog();
  // ...and, well past the timeout, the sleep is still there.
  ::sleep(4);
  EXPECT_EQ(waitpid(sleeper, nullptr, WNOHANG), 0) << "the sleep was killed\n" << c.DaemonLog();
  RunCommand("touch " + marker);
  EXPECT_TRUE(WaitFor([&] { return c.CurrentState(chain) == "succeeded"; }, 20000))
      << c.DaemonLog();
  EXPECT_EQ(c.db().Query(absl::StrCat("SELECT count(*) FROM attempts WHERE chain_id = ", chain)),
            "1");  // adopted, not rerun
  ::kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);
}

// ---- a Postgres outage

// A Postgres of this test's own (scripts/services.sh), so stopping it disturbs no other test.
class PrivatePostgres {
 public:
  PrivatePostgres() : dir_(MakeTempDir("hai-pg-")), port_(FreePort()) {
    const char* redis = std::getenv("HAI_REDIS_PORT");
    redis_port_ = redis == nullptr ? "0" : redis;
    Start();
    if (const char* old = std::getenv("HAI_PG_URL")) old_url_ = old;
    ::setenv("HAI_PG_URL", absl::StrCat("postgresql://hai@127.0.0.1:", port_, "/hai").c_str(), 1);
  }
  ~PrivatePostgres() {
    ::setenv("HAI_PG_URL", old_url_.c_str(), 1);
    RunCommand(absl::StrCat(Script(), " stop ", dir_));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Start() {
    // The test Redis answers on that port already: services.sh starts only Postgres.
    CommandResult r =
        RunCommand(absl::StrCat(Script(), " start ", dir_, " ", port_, " ", redis_port_));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  void Stop() {
    const std::string ls =
        RunCommand("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1").output;
    const std::string pg_bin(absl::StripTrailingAsciiWhitespace(ls));
    const std::string as_pg = ::getuid() == 0 ? "runuser -u postgres -- " : "";
    CommandResult r =
        RunCommand(absl::StrCat(as_pg, pg_bin, "/pg_ctl -D ", dir_, "/pg -m fast -w stop"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

 private:
  static std::string Script() { return std::string(HAI_SOURCE_DIR) + "/scripts/services.sh"; }
  std::string dir_;
  int port_;
  std::string redis_port_;
  std::string old_url_;
};

TEST(Fencing, ATwentySecondPostgresOutageKillsNoManagerAndLosesNoTask) {
  PrivatePostgres pg;
  Cluster c(2, 2, "");
  c.SetSchedulerKey("manager_timeout_s", "5");
  // Managers beat every 2 s, so after Postgres is back they are silent for up to 2 s more
  // while haid reads at once: judged by haid's clock against the last heartbeat they would
  // look 22 s silent.
  RunCommand("sed -i 's/^heartbeat_ms = .*/heartbeat_ms = 2000/' '" + c.config_path() + "'");
  c.AddUser("alice", "alice-token");
  c.StartDaemon();
  const std::string marker = c.dir() + "/go";
  const std::string script = WaitScript(c, marker);
  const int64_t a = Submit(c, script);
  const int64_t b = Submit(c, script);
  ASSERT_TRUE(WaitFor(
      [&] { return c.CurrentState(a) == "running" && c.CurrentState(b) == "running"; }, 20000));
  // Managers of an earlier haid are supervised by their records, not as children.
  c.KillDaemon();
  c.StartDaemon();
  const int64_t attempt_a = AttemptOf(c, a), attempt_b = AttemptOf(c, b);
  const int manager_a = ManagerPid(c, attempt_a), manager_b = ManagerPid(c, attempt_b);
  ASSERT_GT(manager_a, 0);
  ASSERT_GT(manager_b, 0);

  pg.Stop();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  ::sleep(20);
  pg.Start();
  // Two timeouts after Postgres is back.
  ::sleep(10);
  EXPECT_EQ(::kill(manager_a, 0), 0) << c.DaemonLog();
  EXPECT_EQ(::kill(manager_b, 0), 0);
  EXPECT_EQ(ManagerPid(c, attempt_a), manager_a);
  EXPECT_EQ(ManagerPid(c, attempt_b), manager_b);
  EXPECT_THAT(c.DaemonLog(), ::testing::Not(HasSubstr("killing it")));
  RunCommand("touch " + marker);
  EXPECT_TRUE(WaitFor(
      [&] { return c.CurrentState(a) == "succeeded" && c.CurrentState(b) == "succeeded"; }, 30000))
      << c.DaemonLog();
  EXPECT_EQ(c.db().Query("SELECT count(*) FROM attempts"), "2");  // nothing rerun
}

// ---- failing an attempt whose managers keep dying

TEST(Fencing, AnAttemptFailedForLostManagersHasItsRanksEndedBeforeItsGpusAreFree) {
  Cluster c(1, 2, "");
  c.AddUser("alice", "alice-token");
  c.StartDaemon();
  const std::string marker = c.dir() + "/go";
  const int64_t chain = Submit(c, WaitScript(c, marker));
  ASSERT_TRUE(WaitFor([&] { return c.CurrentState(chain) == "running"; }, 20000));
  const int64_t attempt = AttemptOf(c, chain);
  const int rank = RankGroup(c, attempt);
  ASSERT_TRUE(GroupExists(rank));
  // Every manager haid starts for the attempt dies at once: after 3 relaunches haid fails it.
  const std::string kill_managers =
      absl::StrCat("pkill -KILL -f -- '", c.config_path(), ".* --attempt ", attempt, "( |$)'");
  ASSERT_TRUE(WaitFor(
      [&] {
        RunCommand(kill_managers);
        return c.CurrentState(chain) == "failed";
      },
      60000))
      << c.DaemonLog();
  // The moment the attempt reads failed (its GPUs free), its rank is gone.
  EXPECT_FALSE(GroupExists(rank)) << "the orphan rank still runs\n" << c.DaemonLog();
  EXPECT_EQ(c.db().Query("SELECT state FROM hosts WHERE node = 'node-0'"), "ready");
  // The next task gets the GPUs.
  const int64_t next = Submit(c, WaitScript(c, marker));
  RunCommand("touch " + marker);
  EXPECT_TRUE(WaitFor([&] { return c.CurrentState(next) == "succeeded"; }, 30000)) << c.DaemonLog();
}

}  // namespace
}  // namespace hai::testing
