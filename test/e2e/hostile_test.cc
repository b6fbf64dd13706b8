// The local runtime's isolation, tried as a hostile user would (issue 14, docs/security.md).
// Run as root (as in CI): haid runs alice's and bob's tasks as their own numeric uids (20001,
// 20002; no passwd entries needed). Alice's task prints its uid, then tries to read bob's
// task token file, haid's config, bob's rank log and bob's workspace, to write into and
// remount its read-only dataset, and to SIGKILL its supervisor, its manager, haid and bob's
// rank; then it kills its own process group (`kill -9 0`), in every attempt of its chain. That
// is a self-inflicted end, not a lost rank: the chain is requeued scheduler.max_self_requeues
// times (2 here) and then fails with the reason, every node stays ready (node health counts
// only losses the task did not cause), bob's task runs on untouched, and alice's task token
// stops working with its attempt.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

constexpr int kAliceUid = 20001;
constexpr int kBobUid = 20002;

// Alice's script: each attempt prints "<name> <errno name>" or "<name> SUCCEEDED".
constexpr char kAttackTemplate[] = R"py(import errno, os, subprocess, sys
def attempt(name, fn):
    try:
        fn()
        print(name, "SUCCEEDED", flush=True)
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno), flush=True)
print("uid", os.getuid(), flush=True)
attempt("read-token", lambda: open("@TOKEN@").read())
attempt("read-config", lambda: open("@CONFIG@").read())
attempt("read-log", lambda: open("@LOG@").read())
attempt("list-workspace", lambda: os.listdir("@WS@"))
attempt("read-workspace", lambda: open("@WS@/secret.txt").read())
attempt("write-dataset", lambda: open("@DS@/new.txt", "w").write("x"))
try:
    r = subprocess.run(["mount", "-o", "remount,rw,bind", "@DS@"], capture_output=True)
    print("remount", "SUCCEEDED" if r.returncode == 0 else "refused", flush=True)
except OSError as e:
    print("remount", errno.errorcode.get(e.errno, e.errno), flush=True)
supervisor = os.getppid()
manager = int(open("/proc/%d/stat" % supervisor).read().rsplit(")", 1)[1].split()[1])
print("token", os.environ["HAI_TASK_TOKEN"], flush=True)
attempt("kill-bob-rank", lambda: os.killpg(@BOB_GROUP@, 9))
attempt("kill-bob-supervisor", lambda: os.kill(@BOB_SUPERVISOR@, 9))
attempt("kill-haid", lambda: os.kill(@HAID@, 9))
attempt("kill-manager", lambda: os.kill(manager, 9))
attempt("kill-supervisor", lambda: os.kill(supervisor, 9))
print("done", flush=True)
os.kill(0, 9)
)py";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::string Slurp(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

TEST(Hostile, TaskRunsAsItsUserAndCannotHarmOthers) {
  if (::geteuid() != 0) GTEST_SKIP() << "the hostile suite needs root (it runs tasks as uids)";
  Cluster cluster(2, 1);
  // One lost rank marks a node unhealthy: a task that could make its rank "lost" would show.
  cluster.SetSchedulerKey("node_lost_ranks_unhealthy", "1");
  cluster.SetSchedulerKey("max_self_requeues", "2");
  const std::string dir = cluster.dir();
  cluster.AddUser("alice", "alice-token");
  cluster.AddUser("bob", "bob-token");
  cluster.db().Exec(
      absl::StrCat("UPDATE users SET uid = ", kAliceUid, " WHERE user_name = 'alice'"));
  cluster.db().Exec(absl::StrCat("UPDATE users SET uid = ", kBobUid, " WHERE user_name = 'bob'"));
  // Everyone's workspace (created on first use, the user's, 0700) and a read-only dataset.
  std::filesystem::create_directories(dir + "/dataset");
  std::filesystem::create_directories(dir + "/mnt");
  cluster.db().Exec(
      absl::StrCat("INSERT INTO storage (host_path, mount_path, mount_type) VALUES ('", dir,
                   "/ws/{user.user_name}', '", dir, "/mnt/ws/{user.user_name}', 'workspace')"));
  cluster.db().Exec(absl::StrCat("INSERT INTO storage (host_path, mount_path, read_only) VALUES ('",
                                 dir, "/dataset', '", dir, "/mnt/dataset', true)"));
  // The deployment checklist: haid's config (the database URL) is readable by root only.
  ::chmod(cluster.config_path().c_str(), 0600);
  cluster.StartDaemon();

  // Bob's task: keeps a secret in its workspace and runs on.
  const std::string bob_script = cluster.WriteScript(
      "bob.py", absl::StrCat("import time\nopen('", dir,
                             "/mnt/ws/bob/secret.txt', 'w').write('bob-secret')\n"
                             "print('bob-running', flush=True)\ntime.sleep(600)\n"));
  const int64_t bob = cluster.Submit("bob", bob_script, "");
  ASSERT_GT(bob, 0);
  const std::string bob_log_dir = absl::StrCat(dir, "/var/logs/", bob, "/0");
  ASSERT_TRUE(WaitFor(
      [&] { return Slurp(bob_log_dir + "/rank-0.log").find("bob-running") != std::string::npos; },
      20000))
      << cluster.DaemonLog();
  const std::string bob_attempt =
      cluster.db().Query(absl::StrCat("SELECT attempt_id FROM attempts WHERE chain_id = ", bob));
  const std::string bob_supervisor = cluster.db().Query(absl::StrCat(
      "SELECT pid FROM pods WHERE attempt_id = ", bob_attempt, " AND pid IS NOT NULL"));
  const std::string bob_run = absl::StrCat(dir, "/var/run/", bob_attempt);
  const std::string bob_group = Slurp(bob_run + "/rank-0.exit.pgid");
  ASSERT_FALSE(bob_group.empty()) << "bob's command records its own process group";
  const int bob_group_id = std::stoi(bob_group);

  std::string script = kAttackTemplate;
  script = Replace(script, "@TOKEN@", bob_run + "/token");
  script = Replace(script, "@CONFIG@", cluster.config_path());
  script = Replace(script, "@LOG@", bob_log_dir + "/rank-0.log");
  script = Replace(script, "@WS@", dir + "/ws/bob");
  script = Replace(script, "@DS@", dir + "/mnt/dataset");
  script = Replace(script, "@HAID@", absl::StrCat(cluster.haid_pid()));
  script = Replace(script, "@BOB_GROUP@", absl::StrCat(bob_group_id));
  script = Replace(script, "@BOB_SUPERVISOR@", bob_supervisor);
  const int64_t alice = cluster.Submit("alice", cluster.WriteScript("attack.py", script), "");
  ASSERT_GT(alice, 0);

  // Alice's chain is requeued twice, then fails: its own doing, failed ranks, never lost ones.
  ASSERT_TRUE(WaitFor([&] { return cluster.CurrentState(alice) == "failed"; }, 60000))
      << "state " << cluster.CurrentState(alice) << "\n"
      << Slurp(absl::StrCat(dir, "/var/logs/", alice, "/0/rank-0.log")) << cluster.DaemonLog();
  const std::string log = Slurp(absl::StrCat(dir, "/var/logs/", alice, "/0/rank-0.log"));
  EXPECT_NE(log.find(absl::StrCat("[out] uid ", kAliceUid)), std::string::npos) << log;
  for (const char* read :
       {"read-token", "read-config", "read-log", "list-workspace", "read-workspace"}) {
    EXPECT_NE(log.find(absl::StrCat("[out] ", read, " EACCES")), std::string::npos) << read << "\n"
                                                                                    << log;
  }
  EXPECT_EQ(log.find("write-dataset SUCCEEDED"), std::string::npos) << log;
  EXPECT_NE(log.find("[out] remount "), std::string::npos) << log;
  EXPECT_EQ(log.find("remount SUCCEEDED"), std::string::npos) << log;
  for (const char* kill :
       {"kill-supervisor", "kill-manager", "kill-haid", "kill-bob-rank", "kill-bob-supervisor"}) {
    EXPECT_NE(log.find(absl::StrCat("[out] ", kill, " EPERM")), std::string::npos) << kill << "\n"
                                                                                   << log;
  }
  EXPECT_NE(log.find("[out] done"), std::string::npos) << log;
  EXPECT_EQ(cluster.db().Query(absl::StrCat(
                "SELECT string_agg(state, ',' ORDER BY attempt_no) FROM attempts WHERE chain_id = ",
                alice)),
            "suspended,suspended,failed");
  EXPECT_EQ(
      cluster.db().Query(absl::StrCat("SELECT self_requeues FROM chains WHERE chain_id = ", alice)),
      "2");
  const std::string first_reason = cluster.db().Query(absl::StrCat(
      "SELECT end_reason FROM attempts WHERE chain_id = ", alice, " ORDER BY attempt_no LIMIT 1"));
  EXPECT_NE(first_reason.find("killed its own process group"), std::string::npos) << first_reason;
  EXPECT_NE(first_reason.find("requeued (self-inflicted end 1 of at most 2"), std::string::npos)
      << first_reason;
  const std::string reason = cluster.db().Query(absl::StrCat(
      "SELECT end_reason FROM attempts WHERE chain_id = ", alice, " AND state = 'failed'"));
  EXPECT_NE(reason.find("reached scheduler.max_self_requeues = 2"), std::string::npos) << reason;
  // No pod of alice's was ever 'lost'.
  EXPECT_EQ(cluster.db().Query(absl::StrCat("SELECT count(*) FROM pods p JOIN attempts a USING "
                                            "(attempt_id) WHERE a.chain_id = ",
                                            alice, " AND p.state = 'lost'")),
            "0");

  // Every node ready; bob's task untouched.
  EXPECT_EQ(cluster.db().Query("SELECT count(*) FROM hosts WHERE state <> 'ready'"), "0")
      << cluster.db().Query("SELECT string_agg(node || ' ' || state, ', ') FROM hosts");
  EXPECT_EQ(cluster.CurrentState(bob), "running");
  EXPECT_EQ(::kill(-bob_group_id, 0), 0) << "bob's command is gone";
  EXPECT_EQ(Slurp(dir + "/ws/bob/secret.txt"), "bob-secret");
  struct stat ws {};
  ASSERT_EQ(::stat((dir + "/ws/bob").c_str(), &ws), 0);
  EXPECT_EQ(ws.st_uid, static_cast<uid_t>(kBobUid));
  EXPECT_EQ(ws.st_mode & 0777, 0700u);

  // Alice's task token died with its attempt.
  const size_t at = log.find("[out] token ");
  ASSERT_NE(at, std::string::npos) << log;
  const size_t start = at + std::string("[out] token ").size();
  const std::string token = log.substr(start, log.find('\n', start) - start);
  const std::string alice_attempt = cluster.db().Query(absl::StrCat(
      "SELECT attempt_id FROM attempts WHERE chain_id = ", alice, " ORDER BY attempt_no LIMIT 1"));
  httplib::Client http("127.0.0.1", cluster.http_port());
  auto res = http.Get(absl::StrCat("/v1/task/", alice_attempt, "/suspend"),
                      {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
}

}  // namespace
}  // namespace hai::testing
