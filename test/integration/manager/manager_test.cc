// hai-manager end to end: seeds a scheduled attempt with pods rows, runs the real binary and
// checks what it leaves in Postgres, in the rank logs and in the process table. Waits poll
// with deadlines; nothing asserts on a sleep.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/redis.h"
#include "test/integration/manager/process_helpers.h"
#include "test/support/test_env.h"

namespace hai::testing {
namespace {

class ManagerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    db_ = TestDatabase::Create().release();
    db_->Exec(
        "INSERT INTO users (user_name, token_hash) VALUES ('alice', repeat('a', 64)) "
        "ON CONFLICT DO NOTHING");
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  void SetUp() override { dir_ = MakeTempDir("hai-mgr-test"); }

  void TearDown() override {
    for (pid_t p : managers_) {
      if (Reaped().count(p) == 0) ::kill(p, SIGKILL);
    }
    // Leave no rank behind, whatever the test's outcome.
    for (const std::string& pid : Column("SELECT pid FROM pods WHERE pid IS NOT NULL")) {
      ::kill(-std::stoi(pid), SIGKILL);
    }
    KillTaskGroups(dir_);
    WaitUntil([] { return false; }, absl::Milliseconds(100));
  }

  std::string Query(const std::string& sql) { return db_->Query(sql); }
  std::vector<std::string> Column(const std::string& sql) { return db_->Column(sql); }

  // Writes the config used by every manager of this test.
  std::string Config(int suspend_grace_s = 2) {
    const std::string path = dir_ + "/haid.toml";
    WriteFile(path,
              absl::StrCat(
                  "[server]\ndata_dir = \"", dir_, "/data\"\n",
                  "control_url = \"http://127.0.0.1:1\"\n", "[database]\nurl = \"", db_->url(),
                  "\"\n", "[redis]\nhost = \"127.0.0.1\"\nport = ", RedisPort(), "\nprefix = \"",
                  prefix_, "\"\n", "[scheduler]\nsuspend_grace_s = ", suspend_grace_s,
                  "\nkill_grace_s = 2\n", "[manager]\nheartbeat_ms = 200\nstore = \"postgres\"\n"));
    return path;
  }

  // Seeds a chain whose one attempt is 'scheduled' with one pods row per entry of `gpus`.
  // Returns the attempt id.
  int64_t Seed(const std::string& kind, const std::string& entrypoint,
               const std::vector<std::vector<int>>& gpus, const std::string& name) {
    chain_id_ = std::stoll(Query(absl::StrCat(
        "INSERT INTO chains (name, user_name, kind, node_group, priority, nodes, entrypoint, "
        "args, workdir, env) VALUES ('", name, "', 'alice', '", kind, "', 'default', 10, ",
        gpus.size(), ", '", entrypoint, "', '[\"a1\", \"a 2\"]', '", dir_,
        "', '{\"MY_VAR\": \"hello\"}') RETURNING chain_id")));
    const int64_t attempt = std::stoll(Query(absl::StrCat(
        "INSERT INTO attempts (chain_id, attempt_no, state, tier, scheduled_at) VALUES (",
        chain_id_, ", 1, 'scheduled', 10, now()) RETURNING attempt_id")));
    for (size_t rank = 0; rank < gpus.size(); ++rank) {
      db_->Exec(absl::StrCat("INSERT INTO pods (attempt_id, rank, node, gpus) VALUES (", attempt,
                             ", ", rank, ", 'local', '{", absl::StrJoin(gpus[rank], ","),
                             "}')"));
    }
    return attempt;
  }

  std::string Script(const std::string& body) {
    const std::string path = dir_ + "/job.sh";
    WriteFile(path, body);
    return path;
  }

  pid_t StartManager(int64_t attempt, const std::string& config) {
    const std::string bin = BinDir() + "/hai-manager";
    const std::string out = absl::StrCat(dir_, "/manager-", managers_.size(), ".log");
    const pid_t pid = SpawnManager(bin, attempt, config, out);
    managers_.push_back(pid);
    return pid;
  }

  // Waits for the manager to exit; returns its exit code (-1 on timeout).
  int WaitManager(pid_t pid, absl::Duration timeout = kDeadline) {
    return WaitExit(pid, timeout);
  }

  std::string State(int64_t attempt) {
    return Query(absl::StrCat("SELECT state FROM attempts WHERE attempt_id = ", attempt));
  }
  bool AllPodsHavePids(int64_t attempt) {
    return Query(absl::StrCat("SELECT count(*) FROM pods WHERE attempt_id = ", attempt,
                              " AND pid IS NULL")) == "0";
  }
  std::vector<int> Pids(int64_t attempt) {
    std::vector<int> out;
    for (const std::string& p :
         Column(absl::StrCat("SELECT pid FROM pods WHERE attempt_id = ", attempt,
                             " ORDER BY rank"))) {
      out.push_back(std::stoi(p));
    }
    return out;
  }
  std::string RankLog(int attempt_no, int rank) {
    return ReadFile(absl::StrCat(dir_, "/data/logs/", chain_id_, "/", attempt_no, "/rank-", rank,
                                 ".log"));
  }
  std::string ManagerLog(size_t i = 0) { return ReadFile(absl::StrCat(dir_, "/manager-", i, ".log")); }

  void WaitRunning(int64_t attempt) {
    ASSERT_TRUE(WaitUntil([&] { return State(attempt) == "running" && AllPodsHavePids(attempt); }))
        << ManagerLog();
  }

  static TestDatabase* db_;
  std::string dir_;
  std::string prefix_ = absl::StrCat("haitest", ::getpid());
  int64_t chain_id_ = 0;
  std::vector<pid_t> managers_;
};

TestDatabase* ManagerTest::db_ = nullptr;

TEST_F(ManagerTest, TwoRanksSucceedWithTheirEnvironment) {
  const std::string script = Script(
      "echo \"rank=$RANK node_rank=$NODE_RANK world=$WORLD_SIZE cuda=$CUDA_VISIBLE_DEVICES\"\n"
      "echo \"master=$MASTER_ADDR:$MASTER_PORT var=$MY_VAR args=$1,$2\"\n"
      "echo \"token_len=${#HAI_TASK_TOKEN} url=$HAI_CONTROL_URL\"\n"
      "echo oops >&2\n");
  const int64_t attempt = Seed("bash", script, {{0, 1}, {2, 3}}, "ok");
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitManager(m), 0) << ManagerLog();

  // Both ranks ran with their own rank and GPUs and the chain's env/args; the attempt and
  // the chain succeeded.
  EXPECT_EQ(State(attempt), "succeeded");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)), "0");
  EXPECT_EQ(Column(absl::StrCat("SELECT state FROM pods WHERE attempt_id = ", attempt,
                                " ORDER BY rank")),
            (std::vector<std::string>{"succeeded", "succeeded"}));
  EXPECT_EQ(Query(absl::StrCat("SELECT final_state FROM chains WHERE chain_id = ", chain_id_)),
            "succeeded");
  const std::string log0 = RankLog(1, 0), log1 = RankLog(1, 1);
  EXPECT_NE(log0.find("[out] rank=0 node_rank=0 world=2 cuda=0,1\n"), std::string::npos) << log0;
  EXPECT_NE(log1.find("[out] rank=1 node_rank=1 world=2 cuda=2,3\n"), std::string::npos) << log1;
  EXPECT_NE(log0.find("var=hello args=a1,a 2"), std::string::npos) << log0;
  EXPECT_NE(log0.find("master=127.0.0.1:"), std::string::npos) << log0;
  EXPECT_NE(log0.find("token_len=64 url=http://127.0.0.1:1"), std::string::npos) << log0;
  EXPECT_NE(log0.find("[err] oops"), std::string::npos) << log0;
  // The task token's hash is stored and the plaintext kept privately for adoption.
  struct stat st {};
  ASSERT_EQ(::stat(absl::StrCat(dir_, "/data/run/", attempt, "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Query(absl::StrCat("SELECT length(task_token_hash) FROM attempts WHERE attempt_id = ",
                               attempt)),
            "64");
  for (const char* kind : {"starting", "started", "succeeded"}) {
    EXPECT_EQ(Query(absl::StrCat("SELECT count(*) FROM task_events WHERE attempt_id = ", attempt,
                                 " AND kind = '", kind, "'")),
              "1")
        << kind;
  }
}

TEST_F(ManagerTest, FailingRankFailsTheAttemptAndKillsTheOthers) {
  const std::string script = Script(
      "if [ \"$RANK\" = 1 ]; then exit 3; fi\n"
      "trap '' TERM\nwhile true; do sleep 0.1; done\n");
  const int64_t attempt = Seed("bash", script, {{0}, {1}}, "fail");
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitManager(m), 0) << ManagerLog();

  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)), "3");
  EXPECT_EQ(Query(absl::StrCat("SELECT end_reason FROM attempts WHERE attempt_id = ", attempt)),
            "rank 1 exited with code 3");
  // Rank 0 ignored SIGTERM and was killed after the kill grace.
  EXPECT_EQ(Column(absl::StrCat("SELECT state FROM pods WHERE attempt_id = ", attempt,
                                " ORDER BY rank")),
            (std::vector<std::string>{"stopped", "failed"}));
  for (int pgid : Pids(attempt)) EXPECT_TRUE(GroupGone(pgid)) << pgid;
  EXPECT_EQ(Query(absl::StrCat("SELECT final_state FROM chains WHERE chain_id = ", chain_id_)),
            "failed");
}

TEST_F(ManagerTest, StopTerminatesEveryProcess) {
  // Rank 0 ignores SIGTERM (needs the SIGKILL), rank 1 leaves a background child behind.
  const std::string script = Script(
      "if [ \"$RANK\" = 0 ]; then trap '' TERM; fi\n"
      "sleep 1000 &\nwhile true; do sleep 0.1; done\n");
  const int64_t attempt = Seed("bash", script, {{0}, {1}}, "stop");
  const pid_t m = StartManager(attempt, Config());
  WaitRunning(attempt);
  const std::vector<int> pgids = Pids(attempt);

  db_->Exec(absl::StrCat("UPDATE chains SET stop_requested = true WHERE chain_id = ", chain_id_,
                         "; UPDATE attempts SET stop_requested_at = now() WHERE attempt_id = ",
                         attempt, "; INSERT INTO task_events (chain_id, attempt_id, kind, actor) "
                         "VALUES (", chain_id_, ", ", attempt, ", 'stop_requested', 'alice')"));
  {
    auto pub = RedisClient::Connect("127.0.0.1", RedisPort(), absl::Seconds(1));
    ASSERT_TRUE(pub.ok());
    (void)(*pub)->Publish(absl::StrCat(prefix_, ":control:", attempt), "stop");
  }
  ASSERT_EQ(WaitManager(m), 0) << ManagerLog();
  EXPECT_EQ(State(attempt), "stopped");
  EXPECT_EQ(Query(absl::StrCat("SELECT end_reason FROM attempts WHERE attempt_id = ", attempt)),
            "stopped by alice");
  EXPECT_EQ(Query(absl::StrCat("SELECT final_state FROM chains WHERE chain_id = ", chain_id_)),
            "stopped");
  for (int pgid : pgids) EXPECT_TRUE(GroupGone(pgid)) << pgid;
  EXPECT_EQ(Query(absl::StrCat("SELECT count(*) FROM pods WHERE attempt_id = ", attempt,
                               " AND state = 'stopped'")),
            "2");
}

TEST_F(ManagerTest, SuspendWithoutGoSuspendIsKilledAfterGraceAndRequeued) {
  const std::string script = Script("while true; do sleep 0.1; done\n");
  const int64_t attempt = Seed("bash", script, {{0}}, "suspend-grace");
  const pid_t m = StartManager(attempt, Config(/*suspend_grace_s=*/2));
  WaitRunning(attempt);
  const std::vector<int> pgids = Pids(attempt);
  db_->Exec(absl::StrCat(
      "UPDATE chains SET whole_life_state = 7 WHERE chain_id = ", chain_id_,
      "; UPDATE attempts SET suspend_requested_at = now(), suspend_reason = 'preempted by 9' "
      "WHERE attempt_id = ", attempt));
  const absl::Time asked = absl::Now();
  ASSERT_EQ(WaitManager(m), 0) << ManagerLog();
  // The task never called go_suspend, so the manager waited out the grace.
  EXPECT_GE(absl::Now() - asked, absl::Milliseconds(1500));
  EXPECT_EQ(State(attempt), "suspended");
  EXPECT_NE(Query(absl::StrCat("SELECT end_reason FROM attempts WHERE attempt_id = ", attempt))
                .find("preempted by 9"),
            std::string::npos);
  for (int pgid : pgids) EXPECT_TRUE(GroupGone(pgid)) << pgid;
  // Requeued: a new queued attempt of the same chain; the chain stays open with its state.
  EXPECT_EQ(Query(absl::StrCat("SELECT state || ' ' || tier FROM attempts WHERE chain_id = ",
                               chain_id_, " AND attempt_no = 2")),
            "queued 10");
  EXPECT_EQ(Query(absl::StrCat("SELECT coalesce(final_state, 'open') || ' ' || whole_life_state "
                               "FROM chains WHERE chain_id = ", chain_id_)),
            "open 7");
  // Suspended and requeued were written by one transaction.
  EXPECT_EQ(Query(absl::StrCat("SELECT count(DISTINCT xmin::text) FROM attempts WHERE chain_id = ",
                               chain_id_)),
            "1");
  EXPECT_EQ(Query(absl::StrCat("SELECT count(*) FROM task_events WHERE chain_id = ", chain_id_,
                               " AND kind IN ('suspended', 'requeued')")),
            "2");
}

TEST_F(ManagerTest, GoSuspendEndsTheAttemptWithoutWaitingForTheGrace) {
  const std::string script = Script("while true; do sleep 0.1; done\n");
  const int64_t attempt = Seed("bash", script, {{0}}, "suspend-go");
  const pid_t m = StartManager(attempt, Config(/*suspend_grace_s=*/600));
  WaitRunning(attempt);
  db_->Exec(absl::StrCat("UPDATE attempts SET suspend_requested_at = now(), "
                         "suspend_reason = 'preempted', go_suspend_at = now() "
                         "WHERE attempt_id = ", attempt));
  ASSERT_EQ(WaitManager(m, absl::Seconds(20)), 0) << ManagerLog();
  EXPECT_EQ(State(attempt), "suspended");
  EXPECT_EQ(Query(absl::StrCat("SELECT state FROM attempts WHERE chain_id = ", chain_id_,
                               " AND attempt_no = 2")),
            "queued");
}

TEST_F(ManagerTest, SecondManagerAdoptsRanksOfAKilledManager) {
  const std::string release = dir_ + "/release";
  const std::string script = Script(absl::StrCat(
      "echo \"token=$HAI_TASK_TOKEN\"\n"
      "while [ ! -e '", release, "' ]; do sleep 0.05; done\n"
      "echo released\nexit 0\n"));
  const int64_t attempt = Seed("bash", script, {{0}, {1}}, "adopt");
  const std::string config = Config();
  const pid_t first = StartManager(attempt, config);
  WaitRunning(attempt);
  const std::vector<int> pgids = Pids(attempt);
  ::kill(first, SIGKILL);
  ASSERT_EQ(WaitManager(first), 128 + SIGKILL);
  for (int pgid : pgids) EXPECT_FALSE(GroupGone(pgid)) << "rank died with its manager";
  // As if the first manager died between starting rank 1 and recording its pid: the second
  // one must find it through the run directory instead of starting a duplicate.
  db_->Exec(absl::StrCat("UPDATE pods SET pid = NULL WHERE rank = 1 AND attempt_id = ", attempt));

  const pid_t second = StartManager(attempt, config);
  ASSERT_TRUE(WaitUntil([&] {
    return Query(absl::StrCat("SELECT manager_pid FROM attempts WHERE attempt_id = ", attempt)) ==
           absl::StrCat(second);
  }));
  WriteFile(release, "");
  ASSERT_EQ(WaitManager(second), 0) << ManagerLog(1);
  EXPECT_EQ(State(attempt), "succeeded") << ManagerLog(1);
  EXPECT_EQ(Pids(attempt), pgids);  // adopted, not restarted
  EXPECT_EQ(Column(absl::StrCat("SELECT state FROM pods WHERE attempt_id = ", attempt,
                                " ORDER BY rank")),
            (std::vector<std::string>{"succeeded", "succeeded"}));
  EXPECT_NE(RankLog(1, 1).find("[out] released"), std::string::npos);
}

// A manager killed right after starting a rank, before it recorded the rank anywhere (the
// test hook HAI_TEST_MANAGER_EXIT_AFTER_START makes it exit there): its successor finds the
// intent in Postgres and the rank through the runtime, and adopts it instead of starting the
// user command a second time.
TEST_F(ManagerTest, RankStartsOnceWhenItsManagerDiesBeforeRecordingIt) {
  const std::string release = dir_ + "/release";
  const std::string starts = dir_ + "/starts";
  const std::string script =
      Script(absl::StrCat("echo \"$RANK\" >> '", starts, "'\n", "while [ ! -e '", release,
                          "' ]; do sleep 0.05; done\nexit 0\n"));
  // Run as root, the ranks run as the user's uid (docs/security.md): the file is theirs too.
  WriteFile(starts, "");
  ::chmod(starts.c_str(), 0666);
  const int64_t attempt = Seed("bash", script, {{0}, {1}}, "start-once");
  const std::string config = Config();
  ::setenv("HAI_TEST_MANAGER_EXIT_AFTER_START", "1", 1);
  const pid_t first = StartManager(attempt, config);
  ::unsetenv("HAI_TEST_MANAGER_EXIT_AFTER_START");
  ASSERT_EQ(WaitManager(first), 86) << ManagerLog();
  // It died after starting rank 0: Postgres has the intent, not the pid; rank 1 never began.
  EXPECT_EQ(
      Query(absl::StrCat("SELECT coalesce(pid::text, '-') || ' ' || "
                         "coalesce(start_generation::text, '-') FROM pods WHERE attempt_id = ",
                         attempt, " ORDER BY rank LIMIT 1")),
      "- 1");

  const pid_t second = StartManager(attempt, config);
  ASSERT_TRUE(WaitUntil([&] { return State(attempt) == "running" && AllPodsHavePids(attempt); }))
      << ManagerLog(1);
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(starts).size() >= 4; })) << ReadFile(starts);
  // Whatever a duplicate would have written by now is in the file too.
  WaitUntil([] { return false; }, absl::Milliseconds(300));
  WriteFile(release, "");
  ASSERT_EQ(WaitManager(second), 0) << ManagerLog(1);
  EXPECT_EQ(State(attempt), "succeeded") << ManagerLog(1);
  std::string lines = ReadFile(starts);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, "\n\n01") << "each rank's command must run exactly once: " << ReadFile(starts);
}

TEST_F(ManagerTest, SigtermLeavesRanksRunningForTheNextManager) {
  const std::string release = dir_ + "/release";
  const std::string script = Script(absl::StrCat(
      "while [ ! -e '", release, "' ]; do sleep 0.05; done\nexit 5\n"));
  const int64_t attempt = Seed("bash", script, {{0}}, "handover");
  const std::string config = Config();
  const pid_t first = StartManager(attempt, config);
  WaitRunning(attempt);
  const std::vector<int> pgids = Pids(attempt);
  // haid shutting down: the manager leaves, the attempt stays running and its rank alive.
  ::kill(first, SIGTERM);
  ASSERT_EQ(WaitManager(first), 0) << ManagerLog();
  EXPECT_EQ(State(attempt), "running");
  for (int pgid : pgids) EXPECT_FALSE(GroupGone(pgid));

  const pid_t second = StartManager(attempt, config);
  ASSERT_TRUE(WaitUntil([&] {
    return Query(absl::StrCat("SELECT manager_pid FROM attempts WHERE attempt_id = ", attempt)) ==
           absl::StrCat(second);
  }));
  WriteFile(release, "");
  ASSERT_EQ(WaitManager(second), 0) << ManagerLog(1);
  // The exit code of the adopted rank came through its exit file.
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)), "5");
}

TEST_F(ManagerTest, MissingEntrypointFailsWith127) {
  const int64_t attempt = Seed("python", dir_ + "/no_such_train.py", {{0}}, "missing");
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitManager(m), 0) << ManagerLog();
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)),
            "127");
  const std::string log = RankLog(1, 0);
  EXPECT_NE(log.find("[err] hai: entrypoint"), std::string::npos) << log;
  EXPECT_NE(log.find("does not exist"), std::string::npos) << log;
}

TEST_F(ManagerTest, EndedAttemptIsLeftAlone) {
  const int64_t attempt = Seed("bash", Script("exit 0\n"), {{0}}, "ended");
  db_->Exec(absl::StrCat("UPDATE attempts SET state = 'stopped' WHERE attempt_id = ", attempt));
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitManager(m), 0) << ManagerLog();
  EXPECT_EQ(Query(absl::StrCat("SELECT manager_pid IS NULL FROM attempts WHERE attempt_id = ",
                               attempt)),
            "t");
}

TEST_F(ManagerTest, BadArgumentsExit2) {
  const pid_t m = StartManager(0, Config());
  EXPECT_EQ(WaitManager(m), 2);
}

}  // namespace
}  // namespace hai::testing
