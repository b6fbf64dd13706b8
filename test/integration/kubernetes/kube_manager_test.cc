// hai-manager with manager.runtime = "kubernetes", end to end against the API double
// (kube_api_double.py over HTTPS with a bearer token) and the real Postgres: a full run, a
// suspension with SIGTERM semantics, a manager restart with adoption, API errors (retried 5xx
// and 429, 401, 403), a watch that expires (410), image-pull and scheduling failures, a
// Jupyter container whose Service is adopted after a restart. Every
// test also checks that no Pod or Service is left once the attempt has ended.
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "manager/runtime/kubernetes/pod_state.h"
#include "test/integration/kubernetes/kube_double.h"
#include "test/integration/manager/process_helpers.h"
#include "test/support/loopback.h"
#include "test/support/test_env.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAI_ASAN 1
#endif
#endif
#ifdef HAI_ASAN
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
namespace hai::testing {
namespace {

constexpr char kToken[] = "double-token";

class KubeManagerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    db_ = TestDatabase::Create().release();
    db_->Exec(
        "INSERT INTO users (user_name, token_hash) VALUES ('alice', repeat('a', 64)) "
        "ON CONFLICT DO NOTHING");
    certs_ = new std::string(MakeTempDir("hai-kube-certs"));
    MakeCertificates(*certs_);
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
    std::filesystem::remove_all(*certs_);
    delete certs_;
  }

  void SetUp() override {
    dir_ = MakeTempDir("hai-kube-test");
    double_ = KubeDouble::Start(*certs_, kToken);
  }
  void TearDown() override {
    for (pid_t p : managers_) {
      if (Reaped().count(p) == 0) ::kill(p, SIGKILL);
    }
    double_.reset();
    ReapAll();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string Query(const std::string& sql) { return db_->Query(sql); }

  std::string Config(const std::string& kubeconfig_token = kKindToken(), int suspend_grace_s = 30) {
    const std::string kubeconfig =
        double_->WriteKubeconfig(dir_ + "/kubeconfig-" + kubeconfig_token, kubeconfig_token);
    const std::string path = dir_ + "/haid-" + kubeconfig_token + ".toml";
    WriteFile(
        path,
        absl::StrCat(
            "[server]\ndata_dir = \"", dir_, "/data\"\n", "control_url = \"http://127.0.0.1:1\"\n",
            "[database]\nurl = \"", db_->url(), "\"\n",
            "[redis]\nhost = \"127.0.0.1\"\nport = ", RedisPort(), "\nprefix = \"", prefix_, "\"\n",
            "[scheduler]\nsuspend_grace_s = ", suspend_grace_s, "\nkill_grace_s = 2\n",
            "[manager]\nheartbeat_ms = 200\nruntime = \"kubernetes\"\nstore = \"postgres\"\n",
            "[kubernetes]\nkubeconfig = \"", kubeconfig, "\"\n", "namespace = \"hai-test\"\n",
            "default_image = \"registry.local/train:1\"\n",
            "image_pull_timeout_s = 1\nunschedulable_timeout_s = 1\n",
            "request_timeout_ms = 3000\nmax_retries = 3\n", extra_kubernetes_));
    return path;
  }
  static std::string kKindToken() { return kToken; }

  // A scheduled attempt of a bash chain with one pods row per entry of `nodes` (2 GPUs each).
  int64_t Seed(const std::string& script_body, const std::vector<std::string>& nodes,
               const std::string& name, const std::string& image = "") {
    const std::string script = dir_ + "/job.sh";
    WriteFile(script, script_body);
    chain_id_ = std::stoll(Query(absl::StrCat(
        "INSERT INTO chains (name, user_name, kind, node_group, priority, nodes, entrypoint, "
        "workdir, image, env) VALUES ('",
        name, "', 'alice', 'bash', 'default', 10, ", nodes.size(), ", '", script, "', '", dir_,
        "', '", image, "', '{\"MY_VAR\": \"hello\"}') RETURNING chain_id")));
    const int64_t attempt = std::stoll(Query(absl::StrCat(
        "INSERT INTO attempts (chain_id, attempt_no, state, tier, scheduled_at) VALUES (",
        chain_id_, ", 1, 'scheduled', 10, now()) RETURNING attempt_id")));
    for (size_t rank = 0; rank < nodes.size(); ++rank) {
      db_->Exec(absl::StrCat("INSERT INTO pods (attempt_id, rank, node, gpus) VALUES (", attempt,
                             ", ", rank, ", '", nodes[rank], "', '{0,1}')"));
    }
    return attempt;
  }

  pid_t StartManager(int64_t attempt, const std::string& config) {
    const std::string bin = BinDir() + "/hai-manager";
    const std::string out = absl::StrCat(dir_, "/manager-", managers_.size(), ".log");
    const pid_t pid = SpawnManager(bin, attempt, config, out);
    managers_.push_back(pid);
    return pid;
  }

  std::string ManagerLogs() {
    std::string all;
    for (size_t i = 0; i < managers_.size(); ++i) {
      absl::StrAppend(&all, "--- manager ", i, "\n",
                      ReadFile(absl::StrCat(dir_, "/manager-", i, ".log")));
    }
    return all;
  }
  std::string State(int64_t attempt) {
    return Query(absl::StrCat("SELECT state FROM attempts WHERE attempt_id = ", attempt));
  }
  std::string EndReason(int64_t attempt) {
    return Query(absl::StrCat("SELECT end_reason FROM attempts WHERE attempt_id = ", attempt));
  }
  std::string PodStates(int64_t attempt) {
    return absl::StrJoin(db_->Column(absl::StrCat("SELECT state FROM pods WHERE attempt_id = ",
                                                  attempt, " ORDER BY rank")),
                         ",");
  }
  std::string RankLog(int rank) {
    return ReadFile(absl::StrCat(dir_, "/data/logs/", chain_id_, "/1/rank-", rank, ".log"));
  }
  void WaitRunning(int64_t attempt, const std::string& log_text, int ranks) {
    ASSERT_TRUE(WaitUntil([&] {
      if (State(attempt) != "running") return false;
      for (int r = 0; r < ranks; ++r) {
        if (RankLog(r).find(log_text) == std::string::npos) return false;
      }
      return true;
    })) << ManagerLogs();
  }
  // Nothing of the attempt is left in the "cluster".
  void ExpectNothingLeft() {
    const nlohmann::json objects = double_->Objects();
    EXPECT_TRUE(objects.empty()) << objects.dump(1);
  }

  // A scheduled attempt of a Jupyter container of alice (1 core, 1 GiB) on node jup-a.
  int64_t SeedJupyter() {
    chain_id_ = std::stoll(Query(
        "INSERT INTO chains (name, user_name, kind, node_group, priority, nodes, gpus_per_node, "
        "entrypoint, image) VALUES ('nb', 'alice', 'jupyter', 'jupyter', 0, 1, 0, '', '') "
        "RETURNING chain_id"));
    db_->Exec(
        absl::StrCat("INSERT INTO jupyter_containers (chain_id, cpu_millis, memory_mib) "
                     "VALUES (",
                     chain_id_, ", 1000, 1024)"));
    const int64_t attempt = std::stoll(Query(absl::StrCat(
        "INSERT INTO attempts (chain_id, attempt_no, state, tier, scheduled_at) VALUES (",
        chain_id_, ", 1, 'scheduled', 0, now()) RETURNING attempt_id")));
    db_->Exec(absl::StrCat("INSERT INTO pods (attempt_id, rank, node, gpus) VALUES (", attempt,
                           ", 0, 'jup-a', '{}')"));
    return attempt;
  }

  static TestDatabase* db_;
  static std::string* certs_;
  std::string extra_kubernetes_;  // appended to [kubernetes] by Config()
  std::string dir_;
  std::string prefix_ = absl::StrCat("haik8s", ::getpid());
  int64_t chain_id_ = 0;
  std::unique_ptr<KubeDouble> double_;
  std::vector<pid_t> managers_;
};

TestDatabase* KubeManagerTest::db_ = nullptr;
std::string* KubeManagerTest::certs_ = nullptr;

TEST_F(KubeManagerTest, TwoRanksRunAsPodsOnTheirNodesAndSucceed) {
  const int64_t attempt = Seed(
      "echo \"rank=$RANK world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT var=$MY_VAR\"\n"
      "echo \"cuda=${CUDA_VISIBLE_DEVICES-unset} pod=$HAI_POD_NAME token_len=${#HAI_TASK_TOKEN}\"\n"
      "echo oops >&2\n",
      {"node-a", "node-b"}, "ok");
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "succeeded") << EndReason(attempt);
  EXPECT_EQ(PodStates(attempt), "succeeded,succeeded");

  // One Pod per rank, pinned to its node with its GPUs, and the attempt's Service.
  const auto creates = double_->RequestsMatching("POST", "/namespaces/hai-test/pods$");
  ASSERT_EQ(creates.size(), 2u);
  for (size_t i = 0; i < creates.size(); ++i) {
    const nlohmann::json& pod = creates[i]["body"];
    const int rank = std::stoi(pod["metadata"]["labels"]["hai.io/rank"].get<std::string>());
    EXPECT_EQ(pod["metadata"]["name"], absl::StrCat("hai-", attempt, "-", rank));
    EXPECT_EQ(pod["spec"]["nodeSelector"]["kubernetes.io/hostname"],
              rank == 0 ? "node-a" : "node-b");
    EXPECT_EQ(pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], 2);
    EXPECT_EQ(pod["spec"]["containers"][0]["image"], "registry.local/train:1");
    EXPECT_EQ(pod["metadata"]["labels"]["hai.io/attempt"], absl::StrCat(attempt));
    EXPECT_EQ(pod["spec"]["terminationGracePeriodSeconds"], 2);
  }
  EXPECT_EQ(double_->RequestsMatching("POST", "/namespaces/hai-test/services$").size(), 1u);

  // Each Pod runs as alice's uid/gid without privileges, and reads the task token from the
  // attempt's Secret (created once, before the Pods): the token is in no Pod object.
  const std::string uid = Query("SELECT uid FROM users WHERE user_name = 'alice'");
  const auto secrets = double_->RequestsMatching("POST", "/namespaces/hai-test/secrets$");
  ASSERT_EQ(secrets.size(), 1u);
  const nlohmann::json& secret = secrets[0]["body"];
  EXPECT_EQ(secret["metadata"]["name"], absl::StrCat("hai-", attempt, "-token"));
  const std::string encoded = secret["data"]["token"].get<std::string>();
  for (const auto& create : creates) {
    const nlohmann::json& pod = create["body"];
    EXPECT_EQ(pod["spec"]["securityContext"]["runAsUser"].dump(), uid);
    EXPECT_EQ(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    EXPECT_EQ(pod["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"],
              nlohmann::json::array({"ALL"}));
    EXPECT_EQ(pod.dump().find(encoded), std::string::npos);
    bool from_secret = false;
    for (const nlohmann::json& e : pod["spec"]["containers"][0]["env"]) {
      if (e["name"] != "HAI_TASK_TOKEN") continue;
      EXPECT_FALSE(e.contains("value")) << e.dump();
      from_secret = e["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"];
    }
    EXPECT_TRUE(from_secret) << pod.dump(1);
  }
  // The Secret exists before any Pod that references it.
  const nlohmann::json requests = double_->Requests();
  size_t first_secret = requests.size(), first_pod = requests.size();
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i]["method"] != "POST") continue;
    const std::string path = requests[i]["path"];
    if (absl::EndsWith(path, "/secrets")) first_secret = std::min(first_secret, i);
    if (absl::EndsWith(path, "/pods")) first_pod = std::min(first_pod, i);
  }
  EXPECT_LT(first_secret, first_pod);
  // pods.pid holds the id derived from each Pod's uid.
  EXPECT_EQ(
      Query(absl::StrCat("SELECT count(*) FROM pods WHERE attempt_id = ", attempt, " AND pid > 0")),
      "2");

  // The pod log API was copied into the rank logs, in hai's line format.
  const std::string master = absl::StrCat("hai-", attempt, "-0.hai-", attempt, ".hai-test.svc:");
  const std::string log0 = RankLog(0), log1 = RankLog(1);
  EXPECT_NE(log0.find("[out] rank=0 world=2 master=" + master), std::string::npos) << log0;
  EXPECT_NE(log1.find("[out] rank=1 world=2 master=" + master), std::string::npos) << log1;
  EXPECT_NE(log0.find("var=hello"), std::string::npos) << log0;
  EXPECT_NE(log0.find(absl::StrCat("cuda=unset pod=hai-", attempt, "-0 token_len=64")),
            std::string::npos)
      << log0;
  EXPECT_NE(log0.find("] oops"), std::string::npos) << log0;

  // The Pods were deleted once they had ended (with their logs read), and the Service too.
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, FailingRankFailsTheAttemptWithItsExitCode) {
  const int64_t attempt =
      Seed("if [ \"$RANK\" = 1 ]; then echo bad; exit 3; fi\nwhile true; do sleep 0.1; done\n",
           {"node-a", "node-b"}, "fail");
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)),
            "3");
  EXPECT_EQ(PodStates(attempt), "stopped,failed");
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, SuspendDeletesPodsWithTheGraceAndTheTaskSeesSigterm) {
  const int64_t attempt = Seed(
      "trap 'echo got-sigterm; exit 143' TERM\necho started\n"
      "while true; do sleep 0.1; done\n",
      {"node-a"}, "suspend");
  const pid_t m = StartManager(attempt, Config(kToken, /*suspend_grace_s=*/0));
  WaitRunning(attempt, "started", 1);
  EXPECT_TRUE(WaitUntil([&] { return PodStates(attempt) == "running"; })) << PodStates(attempt);
  db_->Exec(
      absl::StrCat("UPDATE attempts SET suspend_requested_at = now(), "
                   "suspend_reason = 'preempted by 9' WHERE attempt_id = ",
                   attempt));
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "suspended");
  EXPECT_NE(EndReason(attempt).find("preempted by 9"), std::string::npos);
  // The container got SIGTERM (the delete's grace), and its last words reached the log.
  EXPECT_NE(RankLog(0).find("got-sigterm"), std::string::npos) << RankLog(0);
  const auto deletes = double_->RequestsMatching("DELETE", "/pods/hai-");
  ASSERT_FALSE(deletes.empty());
  EXPECT_EQ(deletes[0]["body"]["gracePeriodSeconds"], 2);
  EXPECT_FALSE(deletes[0]["body"]["preconditions"]["uid"].get<std::string>().empty());
  // Requeued.
  EXPECT_EQ(Query(absl::StrCat("SELECT state FROM attempts WHERE chain_id = ", chain_id_,
                               " AND attempt_no = 2")),
            "queued");
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, TaskIgnoringSigtermIsKilledAfterTheGrace) {
  const int64_t attempt =
      Seed("trap '' TERM\necho started\nwhile true; do sleep 0.1; done\n", {"node-a"}, "stubborn");
  const pid_t m = StartManager(attempt, Config());
  WaitRunning(attempt, "started", 1);
  db_->Exec(
      absl::StrCat("UPDATE chains SET stop_requested = true WHERE chain_id = ", chain_id_,
                   "; UPDATE attempts SET stop_requested_at = now() WHERE attempt_id = ", attempt));
  const absl::Time asked = absl::Now();
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  // SIGKILL came only after the 2 s grace.
  EXPECT_GE(absl::Now() - asked, absl::Milliseconds(1900));
  EXPECT_EQ(State(attempt), "stopped");
  // One delete with the grace, then (unless the Pod was already gone at the kill deadline)
  // one that shortens it to 1 s; the kill the lifecycle repeats on every poll until the Pod
  // is gone is not resent.
  const auto deletes = double_->RequestsMatching("DELETE", "/pods/hai-");
  ASSERT_GE(deletes.size(), 1u);
  ASSERT_LE(deletes.size(), 2u);
  EXPECT_EQ(deletes[0]["body"]["gracePeriodSeconds"], 2);
  if (deletes.size() == 2) {
    EXPECT_EQ(deletes[1]["body"]["gracePeriodSeconds"], 1);
  }
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, RestartedManagerAdoptsThePodsInsteadOfDuplicatingThem) {
  const std::string release = dir_ + "/release";
  const int64_t attempt = Seed(absl::StrCat("echo first-$RANK\n", "while [ ! -e '", release,
                                            "' ]; do sleep 0.05; done\necho second-$RANK\n"),
                               {"node-a", "node-b"}, "adopt");
  const std::string config = Config();
  const pid_t first = StartManager(attempt, config);
  WaitRunning(attempt, "first-", 2);
  ::kill(first, SIGKILL);
  ASSERT_EQ(WaitExit(first), 128 + SIGKILL);
  // The Pods keep running without a manager.
  EXPECT_EQ(double_->Objects().size(), 4u);  // 2 pods, the service, the token Secret

  const pid_t second = StartManager(attempt, config);
  ASSERT_TRUE(WaitUntil([&] { return ManagerLogs().find("adopted rank 1") != std::string::npos; }))
      << ManagerLogs();
  WriteFile(release, "");
  ASSERT_EQ(WaitExit(second), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "succeeded") << EndReason(attempt);
  // Adopted by name and uid: no second Pod was ever created.
  EXPECT_EQ(double_->RequestsMatching("POST", "/pods$").size(), 2u);
  // The log resumed where the first manager stopped: each line exactly once.
  for (int r = 0; r < 2; ++r) {
    const std::string log = RankLog(r);
    for (const std::string word : {"first-", "second-"}) {
      const std::string line = absl::StrCat("[out] ", word, r, "\n");
      const size_t at = log.find(line);
      EXPECT_NE(at, std::string::npos) << log;
      EXPECT_EQ(log.find(line, at + 1), std::string::npos) << "duplicated: " << log;
    }
  }
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, TransientApiErrorsAreRetriedAndAnExpiredWatchReLists) {
  const std::string release = dir_ + "/release";
  const int64_t attempt =
      Seed(absl::StrCat("echo up\nwhile [ ! -e '", release, "' ]; do sleep 0.05; done\n"),
           {"node-a"}, "flaky");
  // Two 500s and a 429 on the first creates; the client backs off and retries.
  double_->Fail("POST", "/pods$", 500, 2);
  double_->Fail("POST", "/services$", 429, 1);
  const pid_t m = StartManager(attempt, Config());
  WaitRunning(attempt, "up", 1);
  auto lists = [&] {  // list requests: with a label selector, not watches
    return double_->RequestsMatching("GET", "/pods$", "labelSelector").size() -
           double_->RequestsMatching("GET", "/pods$", "watch").size();
  };
  const size_t lists_before = lists();
  // The API server compacts: the open watch ends with 410 Gone and the runtime re-lists.
  double_->ExpireWatches();
  ASSERT_TRUE(
      WaitUntil([&] { return double_->RequestsMatching("GET", "/pods$", "watch").size() >= 2; }));
  WriteFile(release, "");
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "succeeded") << EndReason(attempt);
  EXPECT_EQ(double_->RequestsMatching("POST", "/pods$").size(), 3u);  // 2 failed + 1
  EXPECT_EQ(double_->RequestsMatching("POST", "/services$").size(), 2u);
  EXPECT_GT(lists(), lists_before);  // re-listed after the 410
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, ApiOutageDuringTheRunIsRiddenOut) {
  const std::string release = dir_ + "/release";
  const int64_t attempt = Seed(
      absl::StrCat("echo up\nwhile [ ! -e '", release, "' ]; do sleep 0.05; done\necho done\n"),
      {"node-a"}, "outage");
  const pid_t m = StartManager(attempt, Config());
  WaitRunning(attempt, "up", 1);
  auto lists = [&] { return double_->RequestsMatching("GET", "/pods$", "labelSelector").size(); };
  const size_t before = lists();
  // Eight 503s in a row: two lists fail (each after its own 3 retries), the watch backs
  // off, then a list succeeds and the watch resumes.
  double_->Fail("GET", "/pods$", 503, 8);
  double_->ExpireWatches();
  ASSERT_TRUE(WaitUntil([&] { return lists() >= before + 9; })) << ManagerLogs();
  WriteFile(release, "");
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "succeeded") << EndReason(attempt);
  EXPECT_NE(RankLog(0).find("[out] done"), std::string::npos) << RankLog(0);
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, ForbiddenCreateFailsTheRankWithTheApiMessage) {
  const int64_t attempt = Seed("echo never\n", {"node-a"}, "forbidden");
  double_->Fail("POST", "/pods$", 403, 100);
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)),
            "127");
  EXPECT_NE(EndReason(attempt).find("403"), std::string::npos) << EndReason(attempt);
  // 403 is not retried.
  EXPECT_EQ(double_->RequestsMatching("POST", "/pods$").size(), 1u);
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, WrongTokenIsReportedAsUnauthenticated) {
  const int64_t attempt = Seed("echo never\n", {"node-a"}, "badtoken");
  const pid_t m = StartManager(attempt, Config("wrong-token"));
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_NE(EndReason(attempt).find("401"), std::string::npos) << EndReason(attempt);
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, ImageThatCannotBePulledFailsTheRankAfterTheTimeout) {
  const int64_t attempt = Seed("echo never\n", {"node-a"}, "noimage", "missing/train:404");
  const pid_t m = StartManager(attempt, Config());
  // While the image does not come, the rank reads 'starting', not 'running'.
  EXPECT_TRUE(WaitUntil([&] { return PodStates(attempt) == "starting"; })) << ManagerLogs();
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "failed");
  EXPECT_EQ(Query(absl::StrCat("SELECT exit_code FROM attempts WHERE attempt_id = ", attempt)),
            "127");
  EXPECT_TRUE(absl::StrContains(EndReason(attempt), "ImagePullBackOff") ||
              absl::StrContains(EndReason(attempt), "ErrImagePull"))
      << EndReason(attempt);
  // While it waited, the rank log said why.
  EXPECT_NE(RankLog(0).find("[err] hai: pod hai-" + std::to_string(attempt) +
                            "-0 is pending: ErrImagePull: "),
            std::string::npos)
      << RankLog(0);
  ExpectNothingLeft();
}

TEST_F(KubeManagerTest, UnschedulableRankIsLostAndTheAttemptRequeued) {
  const int64_t attempt = Seed("echo hi\nsleep 30\n", {"node-a", "node-b"}, "unschedulable");
  double_->MakeUnschedulable("node-b");
  const pid_t m = StartManager(attempt, Config());
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "suspended");
  EXPECT_NE(EndReason(attempt).find("unschedulable"), std::string::npos) << EndReason(attempt);
  EXPECT_NE(RankLog(1).find("is pending: Unschedulable: 0/1 nodes are available"),
            std::string::npos)
      << RankLog(1);
  EXPECT_EQ(
      Query(absl::StrCat("SELECT state FROM pods WHERE attempt_id = ", attempt, " AND rank = 1")),
      "lost");
  EXPECT_EQ(Query(absl::StrCat("SELECT state FROM attempts WHERE chain_id = ", chain_id_,
                               " AND attempt_no = 2")),
            "queued");
  ExpectNothingLeft();
}

// The client itself over mutual TLS: a client certificate from the kubeconfig is accepted,
// a client without one is refused during the handshake.
TEST(KubeClientTlsTest, ClientCertificateAuthenticates) {
  const std::string certs = MakeTempDir("hai-kube-mtls");
  MakeCertificates(certs);
  auto dbl = KubeDouble::Start(certs, /*token=*/"", /*require_client_cert=*/true);
  const std::string kubeconfig = absl::StrCat(
      "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n"
      "    server: ",
      dbl->server(),
      "\n    certificate-authority: ca.crt\n"
      "users:\n- name: u\n  user:\n    client-certificate: client.crt\n"
      "    client-key: client.key\ncontexts:\n- name: c\n  context:\n    cluster: k\n"
      "    user: u\n");
  auto ep = manager::kube::ParseKubeconfig(kubeconfig, "", certs);
  ASSERT_TRUE(ep.ok()) << ep.status();
  manager::kube::KubeClient client(*ep, {});
  auto list = client.Call("GET", "/api/v1/namespaces/x/pods");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)["kind"], "PodList");

  manager::kube::KubeEndpoint anonymous = *ep;
  anonymous.client_cert_file.clear();
  anonymous.client_key_file.clear();
  manager::kube::ClientOptions no_retry;
  no_retry.max_retries = 0;
  manager::kube::KubeClient refused(anonymous, no_retry);
  EXPECT_TRUE(absl::IsUnavailable(refused.Call("GET", "/api/v1/namespaces/x/pods").status()));
  // A server whose certificate the CA did not sign is not trusted.
  manager::kube::KubeEndpoint wrong_ca = *ep;
  wrong_ca.ca_file = certs + "/client.crt";
  manager::kube::KubeClient untrusted(wrong_ca, no_retry);
  EXPECT_TRUE(absl::IsUnavailable(untrusted.Call("GET", "/api/v1/namespaces/x/pods").status()));
  dbl.reset();
  std::filesystem::remove_all(certs);
}

// A Jupyter container: its manager dies after the server is up; the next one adopts the Pod,
// finds the ClusterIP Service again (409 on create, then read) and polls the server at its
// cluster IP; the stop removes Pod, both Services and the config ConfigMap.
TEST_F(KubeManagerTest, JupyterServiceIsAdoptedAfterARestartAndEverythingGoesAtTheEnd) {
  const int port = ::hai::testing::FreeLoopbackPort();
  ASSERT_GT(port, 0);
  extra_kubernetes_ =
      absl::StrCat("jupyter_port = ", port, "\njupyter_workspace_host_path = \"", dir_, "/ws\"\n");
  const int64_t attempt = SeedJupyter();
  const std::string config = Config();
  const std::string ready_sql = absl::StrCat(
      "SELECT coalesce(host, '') || ':' || coalesce(port, 0) || ':' || (ready_at IS NOT NULL) "
      "FROM jupyter_containers WHERE chain_id = ",
      chain_id_);
  const std::string serving = absl::StrCat("127.0.0.1:", port, ":true");
  const pid_t first = StartManager(attempt, config);
  ASSERT_TRUE(WaitUntil([&] { return Query(ready_sql) == serving; })) << ManagerLogs();
  // pod, 2 svc, cm, token secret
  EXPECT_EQ(double_->Objects().size(), 5u) << double_->Objects().dump(1);
  ::kill(first, SIGKILL);
  ASSERT_EQ(WaitExit(first), 128 + SIGKILL);

  const pid_t second = StartManager(attempt, config);
  // It reports the address again and polls the server there.
  ASSERT_TRUE(WaitUntil([&] {
    return ReadFile(dir_ + "/manager-1.log")
               .find(absl::StrCat("jupyter server answers on 127.0.0.1:", port)) !=
           std::string::npos;
  })) << ManagerLogs();
  EXPECT_EQ(Query(ready_sql), serving);
  EXPECT_EQ(double_->RequestsMatching("POST", "/pods$").size(), 1u);
  // Headless once; the Jupyter Service by each manager (the second got 409 and read it).
  EXPECT_EQ(double_->RequestsMatching("POST", "/services$").size(), 3u);
  EXPECT_EQ(
      double_->RequestsMatching("GET", absl::StrCat("/services/hai-", attempt, "-jupyter$")).size(),
      1u);
  EXPECT_EQ(double_->RequestsMatching("POST", "/configmaps$").size(), 1u);

  db_->Exec(
      absl::StrCat("UPDATE chains SET stop_requested = true WHERE chain_id = ", chain_id_,
                   "; UPDATE attempts SET stop_requested_at = now() WHERE attempt_id = ", attempt));
  ASSERT_EQ(WaitExit(second), 0) << ManagerLogs();
  EXPECT_EQ(State(attempt), "stopped") << EndReason(attempt);
  ExpectNothingLeft();
  EXPECT_TRUE(WaitUntil([&] { return double_->Procs().empty(); })) << double_->Procs().dump();
}

// A container writing 300 MB without a newline (tqdm's '\r' progress): the pod-log reader
// cuts it into lines of the local runtime's 64 KiB (kMaxLogLineBytes) as it comes, so the
// manager's memory stays flat instead of holding the endless partial line, and the text
// after it still arrives.
TEST_F(KubeManagerTest, EndlessLineIsCutAndManagerMemoryStaysFlat) {
  const int64_t attempt = Seed(
      "echo started\nsleep 2\n"
      "yes 'progress 42%' | tr '\\n' '\\r' | head -c 300000000\n"
      "echo\necho after-the-long-line\nsleep 600\n",
      {"node-a"}, "tqdm");
  const pid_t m = StartManager(attempt, Config());
  WaitRunning(attempt, "started", 1);
  // The peak RSS from here on (VmHWM reset to the current RSS).
  auto status_kib = [&](const std::string& field) -> int64_t {
    std::ifstream in(absl::StrCat("/proc/", m, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (absl::StartsWith(line, field + ":")) return std::atoll(line.c_str() + field.size() + 1);
    }
    return -1;
  };
  const int64_t rss_before = status_kib("VmRSS");
  std::ofstream(absl::StrCat("/proc/", m, "/clear_refs")) << "5";
  // The tail of the rank log, without reading 300 MB on every poll.
  const std::string path = absl::StrCat(dir_, "/data/logs/", chain_id_, "/1/rank-0.log");
  auto tail = [&] {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const std::streamoff size = in.tellg();
    in.seekg(std::max<std::streamoff>(0, size - 4096));
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_TRUE(WaitUntil([&] { return tail().find("after-the-long-line") != std::string::npos; },
                        absl::Seconds(120)))
      << ManagerLogs();
  const int64_t peak = status_kib("VmHWM");
  RecordProperty("manager_rss_before_kib", std::to_string(rss_before));
  RecordProperty("manager_rss_peak_kib", std::to_string(peak));
  ASSERT_GT(rss_before, 0);
  // Under AddressSanitizer (scripts/sanitize.sh builds the manager with it too) freed memory
  // sits in ASan's quarantine, so RSS says nothing about what the reader keeps.
  if (!kAddressSanitizer) {
    EXPECT_LT(peak - rss_before, 20 * 1024)
        << "manager VmRSS before " << rss_before << " KiB, peak " << peak << " KiB";
  }

  // Every line of the rank log is bounded, and all 300 MB of the line arrived.
  std::ifstream in(path, std::ios::binary);
  std::string line;
  size_t longest = 0, lines = 0;
  int64_t text = 0;
  while (std::getline(in, line)) {
    longest = std::max(longest, line.size());
    ++lines;
    const size_t tag = line.find(" [out] ");
    if (tag != std::string::npos) text += static_cast<int64_t>(line.size() - tag - 7);
  }
  EXPECT_LE(longest, 64u * 1024 + 64) << "a rank log line longer than the 64 KiB cut";
  EXPECT_GT(lines, 300000000u / (64 * 1024));
  // Each piece may lose one byte: the stream's timestamp counts against the first piece's
  // 64 KiB, and a piece ending in '\r' loses it (as a CRLF line does).
  EXPECT_GE(text, 300000000 - static_cast<int64_t>(lines) - 64) << lines << " lines";

  db_->Exec(
      absl::StrCat("UPDATE chains SET stop_requested = true WHERE chain_id = ", chain_id_,
                   "; UPDATE attempts SET stop_requested_at = now() WHERE attempt_id = ", attempt));
  ASSERT_EQ(WaitExit(m), 0) << ManagerLogs();
  ExpectNothingLeft();
}

}  // namespace
}  // namespace hai::testing
