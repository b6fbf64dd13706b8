// Storage mounts end to end: rows in the `storage` table, the real hai-manager, and ranks
// that look at their mount namespace. Runs as root (mounts need it). Mount paths live under
// the test's temporary directory, so the mount points the supervisor creates (empty
// directories on the host) are removed with it and nothing is left in the host's "/".
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "test/integration/manager/process_helpers.h"
#include "test/support/test_env.h"

namespace hai::testing {
namespace {

class StorageMountTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    db_ = TestDatabase::Create().release();
    db_->Exec(
        "INSERT INTO users (user_name, token_hash) VALUES ('alice', repeat('a', 64)), "
        "('bob', repeat('b', 64)) ON CONFLICT DO NOTHING; "
        "INSERT INTO user_groups (group_name) VALUES ('lab'), ('vision') ON CONFLICT DO NOTHING; "
        "INSERT INTO user_group_members VALUES ('alice', 'lab') ON CONFLICT DO NOTHING");
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "storage mount tests need root";
    dir_ = MakeTempDir("hai-storage-test");
    host_ = dir_ + "/host";
    mnt_ = dir_ + "/mnt";
    db_->Exec("DELETE FROM storage");
  }

  void TearDown() override {
    for (pid_t p : managers_) {
      if (Reaped().count(p) == 0) ::kill(p, SIGKILL);
    }
    for (const std::string& pid : Column("SELECT pid FROM pods WHERE pid IS NOT NULL")) {
      ::kill(-std::stoi(pid), SIGKILL);
    }
    KillTaskGroups(dir_);
    WaitUntil([] { return false; }, absl::Milliseconds(100));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Query(const std::string& sql) { return db_->Query(sql); }
  std::vector<std::string> Column(const std::string& sql) { return db_->Column(sql); }

  // Inserts a storage row; returns its id.
  std::string AddRow(const std::string& columns, const std::string& values) {
    return Query(absl::StrCat("INSERT INTO storage (", columns, ") VALUES (", values,
                              ") RETURNING id"));
  }

  std::string Config() {
    const std::string path = dir_ + "/haid.toml";
    WriteFile(path, absl::StrCat("[server]\ndata_dir = \"", dir_, "/data\"\n",
                                 "control_url = \"http://127.0.0.1:1\"\n", "[database]\nurl = \"",
                                 db_->url(), "\"\n", "[redis]\nhost = \"127.0.0.1\"\nport = ",
                                 RedisPort(), "\nprefix = \"", prefix_, "\"\n",
                                 "[scheduler]\nsuspend_grace_s = 30\nkill_grace_s = 2\n",
                                 "[manager]\nheartbeat_ms = 200\nstore = \"postgres\"\n"));
    return path;
  }

  // A chain of `user` whose first attempt is scheduled with one rank running `script`.
  int64_t Seed(const std::string& user, const std::string& script, const std::string& name) {
    WriteFile(dir_ + "/" + name + ".sh", script);
    chain_id_ = std::stoll(Query(absl::StrCat(
        "INSERT INTO chains (name, user_name, kind, node_group, priority, nodes, entrypoint, "
        "workdir) VALUES ('", name, "', '", user, "', 'bash', 'default', 10, 1, '", dir_, "/",
        name, ".sh', '", dir_, "') RETURNING chain_id")));
    const int64_t attempt = std::stoll(Query(absl::StrCat(
        "INSERT INTO attempts (chain_id, attempt_no, state, tier, scheduled_at) VALUES (",
        chain_id_, ", 1, 'scheduled', 10, now()) RETURNING attempt_id")));
    db_->Exec(absl::StrCat("INSERT INTO pods (attempt_id, rank, node) VALUES (", attempt,
                           ", 0, 'local')"));
    return attempt;
  }

  pid_t StartManager(int64_t attempt) {
    const std::string bin = BinDir() + "/hai-manager";
    const std::string config = Config();
    const std::string out = absl::StrCat(dir_, "/manager-", managers_.size(), ".log");
    const pid_t pid = SpawnManager(bin, attempt, config, out);
    managers_.push_back(pid);
    return pid;
  }

  std::string State(int64_t attempt) {
    return Query(absl::StrCat("SELECT state FROM attempts WHERE attempt_id = ", attempt));
  }
  std::string RankLog(int attempt_no) {
    return ReadFile(absl::StrCat(dir_, "/data/logs/", chain_id_, "/", attempt_no, "/rank-0.log"));
  }
  std::string ManagerLog(size_t i = 0) {
    return ReadFile(absl::StrCat(dir_, "/manager-", i, ".log"));
  }
  // The "mounts" recorded in the attempt's starting event.
  nlohmann::json StartingMounts(int64_t attempt) {
    return nlohmann::json::parse(Query(absl::StrCat(
        "SELECT detail::text FROM task_events WHERE kind = 'starting' AND attempt_id = ",
        attempt)))["mounts"];
  }

  static TestDatabase* db_;
  std::string dir_, host_, mnt_;
  std::string prefix_ = absl::StrCat("haistotest", ::getpid());
  int64_t chain_id_ = 0;
  std::vector<pid_t> managers_;
};

TestDatabase* StorageMountTest::db_ = nullptr;

TEST_F(StorageMountTest, DatasetReadOnlyOwnWorkspaceWritableOtherWorkspaceInvisible) {
  WriteFile(host_ + "/datasets/x/readme.txt", "dataset-bytes\n");
  WriteFile(host_ + "/ws/bob/secret.txt", "bob-secret\n");
  // The dataset, read-only, for group lab (alice is a member).
  const std::string dataset = AddRow(
      "host_path, mount_path, owner_kind, owner, read_only",
      absl::StrCat("'", host_, "/datasets/x', '", mnt_, "/datasets/x', 'group', 'lab', true"));
  // Everyone's own workspace, created on first use.
  const std::string ws = AddRow(
      "host_path, mount_path, mount_type",
      absl::StrCat("'", host_, "/ws/{user.user_name}', '", mnt_,
                   "/ws/{user.user_name}', 'workspace'"));
  // Rows that are not alice's: another group's and bob's own.
  AddRow("host_path, mount_path, owner_kind, owner",
         absl::StrCat("'", host_, "/ws/bob', '", mnt_, "/ws/bob', 'user', 'bob'"));
  AddRow("host_path, mount_path, owner_kind, owner",
         absl::StrCat("'", host_, "', '", mnt_, "/vision', 'group', 'vision'"));
  // An invalid row: reported, skipped, and the attempt still runs.
  const std::string bad = AddRow(
      "host_path, mount_path, conditions",
      absl::StrCat("'", host_, "', '", mnt_, "/bad', 'task.group = \"default\"'"));

  const std::string m = mnt_;
  const int64_t attempt = Seed("alice", absl::StrCat(
      "cat '", m, "/datasets/x/readme.txt'\n"
      "echo from-alice > '", m, "/ws/alice/out.txt' && echo workspace-write-ok\n"
      "if touch '", m, "/datasets/x/new.txt' 2>/dev/null; then echo dataset-write-ok; "
      "else python3 -c 'import os,errno\n"
      "try:\n  open(\"", m, "/datasets/x/new2.txt\", \"w\")\n"
      "except OSError as e: print(\"dataset-write-errno\", errno.errorcode[e.errno])'; fi\n"
      "touch '", m, "/datasets/x/new3.txt' 2>&1\n"
      "if [ -e '", m, "/ws/bob/secret.txt' ] || [ -e '", m, "/vision' ]; "
      "then echo other-visible; else echo other-invisible; fi\n"
      "grep ' ", m, "/' /proc/self/mountinfo | awk '{print \"mnt\", $5, $6}'\n"),
      "mounts");
  const pid_t mgr = StartManager(attempt);
  ASSERT_EQ(WaitExit(mgr), 0) << ManagerLog();
  const std::string log = RankLog(1);
  EXPECT_EQ(State(attempt), "succeeded") << log << ManagerLog();

  EXPECT_NE(log.find("[out] dataset-bytes"), std::string::npos) << log;
  EXPECT_NE(log.find("[out] workspace-write-ok"), std::string::npos) << log;
  EXPECT_EQ(log.find("dataset-write-ok"), std::string::npos) << log;
  EXPECT_NE(log.find("[out] dataset-write-errno EROFS"), std::string::npos) << log;
  EXPECT_NE(log.find("Read-only file system"), std::string::npos) << log;
  EXPECT_NE(log.find("[out] other-invisible"), std::string::npos) << log;
  // Exactly alice's two mounts, with their options (ro/rw, nosuid, nodev).
  EXPECT_NE(log.find(absl::StrCat("[out] mnt ", m, "/datasets/x ro,nosuid,nodev")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(absl::StrCat("[out] mnt ", m, "/ws/alice rw,nosuid,nodev")),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(absl::StrCat("mnt ", m, "/ws/bob")), std::string::npos) << log;

  // The workspace write reached the host directory (created by the manager, mode 0700);
  // the dataset is untouched; the host never saw the mounts (private namespace).
  EXPECT_EQ(ReadFile(host_ + "/ws/alice/out.txt"), "from-alice\n");
  struct stat st {};
  ASSERT_EQ(::stat((host_ + "/ws/alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_FALSE(std::filesystem::exists(host_ + "/datasets/x/new.txt"));
  EXPECT_FALSE(std::filesystem::exists(host_ + "/datasets/x/new3.txt"));
  EXPECT_TRUE(std::filesystem::is_directory(mnt_ + "/datasets/x"));
  EXPECT_TRUE(std::filesystem::is_empty(mnt_ + "/datasets/x"));
  EXPECT_FALSE(std::filesystem::exists(mnt_ + "/ws/bob"));

  // The resolved mounts are in the starting event; the bad row is reported, not fatal.
  const nlohmann::json mounts = StartingMounts(attempt);
  ASSERT_EQ(mounts.size(), 2u) << mounts.dump();
  EXPECT_EQ(mounts[0]["row"].get<int64_t>(), std::stoll(dataset));
  EXPECT_EQ(mounts[0]["read_only"], true);
  EXPECT_EQ(mounts[1]["row"].get<int64_t>(), std::stoll(ws));
  EXPECT_EQ(mounts[1]["mount_path"], mnt_ + "/ws/alice");
  const nlohmann::json problems = nlohmann::json::parse(Query(absl::StrCat(
      "SELECT detail::text FROM task_events WHERE kind = 'storage_problems' AND attempt_id = ",
      attempt)))["problems"];
  ASSERT_EQ(problems.size(), 1u) << problems.dump();
  EXPECT_EQ(problems[0]["row"].get<int64_t>(), std::stoll(bad));
  EXPECT_NE(problems[0]["reason"].get<std::string>().find("column 12"), std::string::npos);
  EXPECT_NE(ManagerLog().find(absl::StrCat("storage row ", bad, " skipped")), std::string::npos)
      << ManagerLog();
}

TEST_F(StorageMountTest, RowAddedBySqlAppearsInTheNextAttempt) {
  WriteFile(host_ + "/extra/marker", "extra-mounted\n");
  const std::string m = mnt_;
  const int64_t first = Seed("alice", absl::StrCat(
      "cat '", m, "/extra/marker' 2>/dev/null || echo no-extra\n"
      "while true; do sleep 0.1; done\n"),
      "next-attempt");
  const pid_t mgr = StartManager(first);
  ASSERT_TRUE(WaitUntil([&] { return RankLog(1).find("no-extra") != std::string::npos; }))
      << RankLog(1) << ManagerLog();
  // The admin adds a row while the first attempt runs; it does not change running ranks.
  const std::string row = AddRow(
      "host_path, mount_path, owner_kind, owner, read_only",
      absl::StrCat("'", host_, "/extra', '", m, "/extra', 'user', 'alice', true"));
  // Suspend the first attempt: the manager requeues the chain as attempt 2.
  db_->Exec(absl::StrCat("UPDATE attempts SET suspend_requested_at = now(), "
                         "go_suspend_at = now() WHERE attempt_id = ", first));
  ASSERT_EQ(WaitExit(mgr), 0) << ManagerLog();
  ASSERT_EQ(State(first), "suspended");
  EXPECT_EQ(StartingMounts(first).size(), 0u);
  const int64_t second = std::stoll(Query(absl::StrCat(
      "SELECT attempt_id FROM attempts WHERE chain_id = ", chain_id_, " AND attempt_no = 2")));
  // As haid's scheduler would: schedule it with a pods row.
  db_->Exec(absl::StrCat("UPDATE attempts SET state = 'scheduled', scheduled_at = now() "
                         "WHERE attempt_id = ", second, "; INSERT INTO pods (attempt_id, rank, "
                         "node) VALUES (", second, ", 0, 'local')"));
  const pid_t mgr2 = StartManager(second);
  ASSERT_TRUE(WaitUntil([&] { return RankLog(2).find("[out] ") != std::string::npos; }))
      << RankLog(2) << ManagerLog(1);
  EXPECT_NE(RankLog(2).find("[out] extra-mounted"), std::string::npos) << RankLog(2);
  const nlohmann::json mounts = StartingMounts(second);
  ASSERT_EQ(mounts.size(), 1u) << mounts.dump();
  EXPECT_EQ(mounts[0]["row"].get<int64_t>(), std::stoll(row));
  db_->Exec(absl::StrCat("UPDATE chains SET stop_requested = true WHERE chain_id = ", chain_id_,
                         "; UPDATE attempts SET stop_requested_at = now() WHERE attempt_id = ",
                         second));
  EXPECT_EQ(WaitExit(mgr2), 0) << ManagerLog(1);
  EXPECT_EQ(State(second), "stopped");
}

TEST_F(StorageMountTest, MissingHostPathFailsTheRankWith125) {
  const std::string row = AddRow("host_path, mount_path",
                                 absl::StrCat("'", host_, "/no/such/dir', '", mnt_, "/data'"));
  const int64_t attempt = Seed("alice", "echo should-not-run\n", "missing-host");
  const pid_t mgr = StartManager(attempt);
  ASSERT_EQ(WaitExit(mgr), 0) << ManagerLog();
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)),
            "125");
  const std::string log = RankLog(1);
  EXPECT_EQ(log.find("should-not-run"), std::string::npos) << log;
  EXPECT_NE(log.find(absl::StrCat("[err] hai: mount ", host_, "/no/such/dir -> ", mnt_,
                                  "/data, storage row ", row, ": host path ")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("No such file or directory"), std::string::npos) << log;
}

TEST_F(StorageMountTest, MountOverHaisRunDirectoryIsRefused) {
  std::filesystem::create_directories(host_ + "/empty");
  AddRow("host_path, mount_path", absl::StrCat("'", host_, "/empty', '", dir_, "/data'"));
  const int64_t attempt = Seed("alice", "echo should-not-run\n", "cover-run-dir");
  const pid_t mgr = StartManager(attempt);
  ASSERT_EQ(WaitExit(mgr), 0) << ManagerLog();
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)),
            "125");
  const std::string log = RankLog(1);
  EXPECT_NE(log.find("would cover hai's run directory"), std::string::npos) << log;
  EXPECT_EQ(log.find("should-not-run"), std::string::npos) << log;
}

TEST_F(StorageMountTest, WithoutRootMountsAreRefused) {
  // The rank supervisor, run directly as `nobody` with one mount.
  const std::string run = dir_ + "/nonroot";
  std::filesystem::create_directories(run);
  ::chmod(dir_.c_str(), 0755);
  ::chmod(run.c_str(), 0777);
  const std::string bin = BinDir() + "/hai-manager";
  const std::string log_path = run + "/rank-0.log", exit_path = run + "/rank-0.exit";
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(98);
    ::execl(bin.c_str(), bin.c_str(), "--rank-supervisor", "--log-file", log_path.c_str(),
            "--exit-file", exit_path.c_str(), "--cwd", "/", "--required-file", "",
            "--mount", "ro", "bind", "3", "/usr", "/tmp/hai-never-mounted", "--", "echo",
            "should-not-run", static_cast<char*>(nullptr));
    ::_exit(99);
  }
  ASSERT_EQ(WaitExit(pid), 0);
  const std::string log = ReadFile(log_path);
  EXPECT_NE(log.find("[err] hai: storage mounts need the manager to run as root"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("should-not-run"), std::string::npos) << log;
  EXPECT_EQ(ReadFile(exit_path).substr(0, 4), "125\n");  // then the reason
}

TEST_F(StorageMountTest, NoRowsNoNamespace) {
  const int64_t attempt = Seed("alice", "readlink /proc/self/ns/mnt\n", "no-mounts");
  const pid_t mgr = StartManager(attempt);
  ASSERT_EQ(WaitExit(mgr), 0) << ManagerLog();
  EXPECT_EQ(State(attempt), "succeeded");
  char buf[128] = {};
  const ssize_t n = ::readlink("/proc/self/ns/mnt", buf, sizeof(buf) - 1);
  ASSERT_GT(n, 0);
  EXPECT_NE(RankLog(1).find(absl::StrCat("[out] ", std::string(buf, n))), std::string::npos)
      << RankLog(1);
}

}  // namespace
}  // namespace hai::testing
