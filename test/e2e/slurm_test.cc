// The Slurm runtime end to end (issue 20, docs/slurm.md) against a REAL Slurm: munged,
// slurmctld and three `slurmd -N node-I` on this host, started once for the suite by
// scripts/slurm-up.sh from Debian's packages, each node with GPUs declared as GRES over
// plain files. haid and its managers run with manager.runtime = "slurm"; every rank is a
// batch job. Scenarios: a 2-rank task runs with its logs streamed; a LOW task is suspended
// by a HIGH one with the notice, checkpoints, is requeued and resumes to the exact step
// count; stop; a manager SIGKILLed mid-run is replaced and adopts the Slurm jobs; a node
// drained in Slurm requeues hai's task there and becomes cordoned in hai.
// Needs root (slurmd starts jobs as their users; the tasks run as nobody and daemon).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Steps of 0.1 s, a checkpoint every 5 steps, and (LISTEN=1) a checkpoint + go_suspend on the
// notice: the preemption e2e test's trainer.
constexpr char kTrainScript[] = R"PY(
import json, os, sys, time
import hai

total = int(sys.argv[1])
listen = os.environ.get("LISTEN") == "1"
path = os.path.join(os.environ["CKPT_DIR"], "rank%d.json" % hai.rank())

def save(step):
    with open(path + ".tmp", "w") as f:
        json.dump({"step": step}, f)
    os.replace(path + ".tmp", path)

step = 0
if os.path.exists(path):
    with open(path) as f:
        step = json.load(f)["step"]
    print("resumed from step %d" % step, flush=True)
else:
    print("fresh start, world %d on %s" % (hai.world_size(), os.environ.get("SLURMD_NODENAME")), flush=True)
while step < total:
    time.sleep(0.1)
    step += 1
    if step % 5 == 0:
        save(step)
    if listen and hai.receive_suspend_command():
        save(step)
        print("suspend notice at step %d, checkpoint saved" % step, flush=True)
        hai.go_suspend()
        time.sleep(600)  # the manager stops us now
save(step)
print("done %d steps" % step, flush=True)
)PY";

std::string g_slurm_dir;    // the suite's Slurm (slurm.conf, logs)
std::string g_slurm_error;  // why Slurm could not be started ("" = it runs)
int g_cases = 0;

std::string SlurmConf() { return g_slurm_dir + "/slurm.conf"; }

// A Slurm command against the suite's cluster.
CommandResult Slurm(const std::string& command) {
  return RunCommand(command, {{"SLURM_CONF", SlurmConf()}});
}

class SlurmRuntime : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      g_slurm_error = "not root: slurmd must start jobs as their users";
      return;
    }
    g_slurm_dir = MakeTempDir("hai-slurm-");
    // Below the kernel's ephemeral range (32768-60999): Slurm binds without SO_REUSEADDR, so
    // a port some client connection happened to use (even one in TIME_WAIT) cannot be had.
    int port = 26817;
    if (const char* p = std::getenv("HAI_TEST_SLURM_PORT"); p != nullptr) {
      (void)absl::SimpleAtoi(p, &port);
    }
    // slurmctld on `port`, node-0..2 on the next three ports, 2 GPUs each.
    auto r = RunCommand(absl::StrCat(HAI_SOURCE_DIR, "/scripts/slurm-up.sh start ", g_slurm_dir,
                                     " ", port, " ", port + 1, " 3 2"));
    if (r.exit_code != 0) g_slurm_error = r.output;
  }
  static void TearDownTestSuite() {
    if (g_slurm_dir.empty()) return;
    RunCommand(absl::StrCat(HAI_SOURCE_DIR, "/scripts/slurm-up.sh stop ", g_slurm_dir));
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) {
      RunCommand("rm -rf " + g_slurm_dir);
    }
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << g_slurm_error;
    ASSERT_TRUE(g_slurm_error.empty()) << "Slurm could not be started:\n" << g_slurm_error;
    prefix_ = absl::StrCat("t", ::getpid(), "-", ++g_cases);
  }

  void TearDown() override {
    if (cluster_ == nullptr) return;
    // Jobs of this case end with it. pods.pid holds Slurm job ids, not process groups: the
    // harness's cleanup must not kill(-id) them.
    std::string ids = Slurm("squeue -h -o %i -n " + JobNames()).output;
    for (absl::string_view id : absl::StrSplit(ids, '\n', absl::SkipWhitespace())) {
      Slurm(absl::StrCat("scancel ", id));
    }
    cluster_->StopDaemon();
    cluster_->db().Exec("UPDATE pods SET pid = NULL");
    for (const char* node : {"node-0", "node-1", "node-2"}) {
      Slurm(absl::StrCat("scontrol update nodename=", node, " state=resume"));
    }
    cluster_.reset();
  }

  // A hai cluster on `nodes` of Slurm's nodes (node-0..), runtime slurm.
  void Start(int nodes, int gpus, const std::string& scheduler_toml = "") {
    cluster_ = std::make_unique<Cluster>(
        nodes, gpus,
        absl::StrCat("[slurm]\nslurm_conf = \"", SlurmConf(), "\"\njob_name_prefix = \"", prefix_,
                     "\"\nnode_sync_interval_ms = 300\ncommand_timeout_ms = 10000\n"),
        scheduler_toml);
    cluster_->SetManagerKey("runtime", "\"slurm\"");
    cluster_->AddUser("alice", "alice-token");
    cluster_->AddUser("bob", "bob-token");
    // Slurm starts jobs only for accounts the nodes know: alice's tasks run as nobody, bob's
    // as daemon.
    cluster_->db().Exec("UPDATE users SET uid = 65534, gid = 65534 WHERE user_name = 'alice'");
    cluster_->db().Exec("UPDATE users SET uid = 1, gid = 1 WHERE user_name = 'bob'");
    cluster_->StartDaemon();
    ckpt_ = cluster_->dir() + "/ckpt";
    RunCommand("mkdir -p " + ckpt_ + " && chmod 1777 " + ckpt_);
  }

  std::string JobNames() const {
    std::string names;
    for (int a = 1; a <= 20; ++a) {
      for (int r = 0; r < 3; ++r)
        absl::StrAppend(&names, names.empty() ? "" : ",", prefix_, "-", a, "-", r);
    }
    return names;
  }

  std::vector<std::string> AttemptStates(int64_t chain) {
    auto conn = cluster_->db().Connect();
    pqxx::nontransaction tx(*conn);
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params(
             "SELECT state FROM attempts WHERE chain_id = $1 ORDER BY attempt_no", chain)) {
      out.push_back(r[0].as<std::string>());
    }
    return out;
  }
  int64_t LatestAttempt(int64_t chain) {
    int64_t id = 0;
    (void)absl::SimpleAtoi(cluster_->db().Query(absl::StrCat(
                               "SELECT max(attempt_id) FROM attempts WHERE chain_id = ", chain)),
                           &id);
    return id;
  }
  // rank -> (node, Slurm job id) of an attempt's pods.
  std::map<int, std::pair<std::string, int64_t>> Pods(int64_t attempt) {
    auto conn = cluster_->db().Connect();
    pqxx::nontransaction tx(*conn);
    std::map<int, std::pair<std::string, int64_t>> out;
    for (const auto& r : tx.exec_params(
             "SELECT rank, node, coalesce(pid, 0) FROM pods WHERE attempt_id = $1", attempt)) {
      out[r[0].as<int>()] = {r[1].as<std::string>(), r[2].as<int64_t>()};
    }
    return out;
  }
  // Slurm's view of a job: "STATE|NODE|NAME".
  std::string Job(int64_t id) {
    auto r = Slurm(absl::StrCat("squeue -h --states=all -j ", id, " -o '%T|%N|%j'"));
    std::string out = r.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  int Checkpoint(int rank) {
    std::ifstream f(absl::StrCat(ckpt_, "/rank", rank, ".json"));
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string s = ss.str();
    const size_t colon = s.find(':');
    int step = -1;
    if (colon != std::string::npos) {
      (void)absl::SimpleAtoi(
          absl::StripAsciiWhitespace(s.substr(colon + 1, s.find('}') - colon - 1)), &step);
    }
    return step;
  }
  // Submits the trainer for `steps` with hai-cli options `opts`.
  int64_t SubmitTrain(const std::string& user, int steps, const std::string& opts, bool listen) {
    const std::string train = cluster_->WriteScript("train.py", kTrainScript);
    return cluster_->Submit(
        user, absl::StrCat(train, " ", steps),
        absl::StrCat(opts, " -e PYTHONPATH=", HAI_SOURCE_DIR, "/python -e CKPT_DIR=", ckpt_,
                     " -e LISTEN=", listen ? 1 : 0));
  }
  std::string Diagnose() {
    return absl::StrCat(cluster_->DaemonLog(), "\n--- squeue\n",
                        Slurm("squeue --states=all -o '%i %j %T %N %r'").output, "\n--- sinfo\n",
                        Slurm("sinfo -N -o '%N %T %E'").output);
  }

  std::string prefix_;
  std::string ckpt_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(SlurmRuntime, TwoRankTaskRunsAsSlurmJobsPinnedToItsNodesAndItsLogsStream) {
  Start(2, 2);
  const std::string script = cluster_->WriteScript(
      "ranks.py",
      "import os, time\n"
      "print('RANK=%s WORLD_SIZE=%s node=%s uid=%d master=%s' % (os.environ['RANK'], "
      "os.environ['WORLD_SIZE'], os.environ.get('SLURMD_NODENAME'), os.getuid(), "
      "os.environ['MASTER_ADDR']), flush=True)\n"
      "time.sleep(4)\n"
      "print('rank %s done' % os.environ['RANK'], flush=True)\n");
  const int64_t chain = cluster_->Submit("alice", script, "-n 2");
  ASSERT_TRUE(
      WaitFor([&] { return AttemptStates(chain) == std::vector<std::string>{"running"}; }, 20000))
      << Diagnose();
  const int64_t attempt = LatestAttempt(chain);
  auto pods = Pods(attempt);
  ASSERT_TRUE(WaitFor(
      [&] {
        pods = Pods(attempt);
        return pods.size() == 2 && pods[0].second > 0 && pods[1].second > 0;
      },
      10000));
  // Each rank is a Slurm job named after the attempt and rank, on the node hai placed it on
  // (Slurm names the node once the job runs).
  for (const auto& [rank, pod] : pods) {
    const std::string want = absl::StrCat("|", pod.first, "|", prefix_, "-", attempt, "-", rank);
    EXPECT_TRUE(WaitFor([&] { return Job(pod.second).find(want) != std::string::npos; }, 15000))
        << Job(pod.second) << " lacks " << want << "\n"
        << Diagnose();
  }
  // The task token travels in the job's environment, never in its script or argv.
  std::ifstream token_file(absl::StrCat(cluster_->dir(), "/var/run/", attempt, "/token"));
  std::string token;
  token_file >> token;
  ASSERT_FALSE(token.empty());
  auto batch = Slurm(absl::StrCat("scontrol write batch_script ", pods[0].second, " -"));
  EXPECT_THAT(batch.output, HasSubstr("--rank-supervisor"));
  EXPECT_THAT(batch.output, Not(HasSubstr(token)));

  auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", chain));
  EXPECT_EQ(logs.exit_code, 0) << logs.output << Diagnose();
  // Both ranks' output, as the task's user (nobody), on their own nodes.
  EXPECT_THAT(logs.output, HasSubstr("RANK=0 WORLD_SIZE=2"));
  EXPECT_THAT(logs.output, HasSubstr("RANK=1 WORLD_SIZE=2"));
  EXPECT_THAT(logs.output, HasSubstr("uid=65534 master=127.0.0.1"));
  EXPECT_THAT(logs.output, HasSubstr("node=" + pods[0].first));
  EXPECT_THAT(logs.output, HasSubstr("node=" + pods[1].first));
  EXPECT_THAT(logs.output, HasSubstr("rank 1 done"));
  EXPECT_TRUE(WaitFor([&] { return cluster_->CurrentState(chain) == "succeeded"; }, 10000))
      << Diagnose();
  EXPECT_THAT(Job(pods[0].second), HasSubstr("COMPLETED"));
}

TEST_F(SlurmRuntime, LowTaskIsSuspendedByHighCheckpointsAndResumesToTheExactStep) {
  Start(2, 1);
  const int total = 60;
  const int64_t low = SubmitTrain("alice", total, "-n 2 -p LOW", true);
  ASSERT_TRUE(WaitFor([&] { return Checkpoint(0) >= 10 && Checkpoint(1) >= 10; }, 30000))
      << Diagnose();
  const int64_t first = LatestAttempt(low);
  const auto low_pods = Pods(first);
  const std::string quick = cluster_->WriteScript(
      "quick.py", "import time\nprint('high priority work', flush=True)\ntime.sleep(2)\n");
  const int64_t high = cluster_->Submit("bob", quick, "-n 1 -p HIGH");
  // The notice reaches the task through Slurm-launched ranks; it checkpoints and the attempt
  // is suspended and requeued; HIGH runs.
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(high) == "running"; }, 30000))
      << Diagnose();
  EXPECT_EQ(AttemptStates(low)[0], "suspended");
  EXPECT_THAT(cluster_->db().Query(
                  absl::StrCat("SELECT end_reason FROM attempts WHERE attempt_id = ", first)),
              HasSubstr("go_suspend"));
  // The suspended ranks' Slurm jobs are over.
  for (const auto& [rank, pod] : low_pods) {
    EXPECT_TRUE(
        WaitFor([&] { return Job(pod.second).find("RUNNING") == std::string::npos; }, 10000))
        << Job(pod.second);
  }
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(high) == "succeeded"; }, 30000))
      << Diagnose();
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(low) == "succeeded"; }, 60000))
      << Diagnose();
  EXPECT_EQ(Checkpoint(0), total);
  EXPECT_EQ(Checkpoint(1), total);
  auto logs = cluster_->Cli("alice", absl::StrCat("logs ", low));
  EXPECT_THAT(logs.output, HasSubstr("resumed from step"));
  EXPECT_THAT(logs.output, HasSubstr(absl::StrCat("done ", total, " steps")));
  // A new attempt is new Slurm jobs.
  const auto second_pods = Pods(LatestAttempt(low));
  EXPECT_NE(second_pods.at(0).second, low_pods.at(0).second);
}

TEST_F(SlurmRuntime, StopEndsTheSlurmJobs) {
  Start(2, 1);
  const std::string sleeper = cluster_->WriteScript(
      "sleep.py", "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n");
  const int64_t chain = cluster_->Submit("alice", sleeper, "-n 2");
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(chain) == "running"; }, 20000))
      << Diagnose();
  const int64_t attempt = LatestAttempt(chain);
  std::map<int, std::pair<std::string, int64_t>> pods;
  ASSERT_TRUE(WaitFor(
      [&] {
        pods = Pods(attempt);
        return pods.size() == 2 && Job(pods[0].second).rfind("RUNNING", 0) == 0 &&
               Job(pods[1].second).rfind("RUNNING", 0) == 0;
      },
      20000))
      << Diagnose();
  auto stop = cluster_->Cli("alice", absl::StrCat("stop ", chain));
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(chain) == "stopped"; }, 20000))
      << Diagnose();
  for (const auto& [rank, pod] : pods) {
    const std::string job = Job(pod.second);
    EXPECT_THAT(job, Not(HasSubstr("RUNNING")));
    EXPECT_THAT(job, Not(HasSubstr("PENDING")));
  }
}

TEST_F(SlurmRuntime, ManagerKilledMidRunIsReplacedAndAdoptsTheSlurmJobs) {
  Start(2, 1, "manager_timeout_s = 3");
  const int total = 80;
  const int64_t chain = SubmitTrain("alice", total, "-n 2", false);
  ASSERT_TRUE(WaitFor([&] { return Checkpoint(0) >= 10; }, 30000)) << Diagnose();
  const int64_t attempt = LatestAttempt(chain);
  const auto pods = Pods(attempt);
  int manager = 0;
  (void)absl::SimpleAtoi(cluster_->db().Query(absl::StrCat(
                             "SELECT manager_pid FROM attempts WHERE attempt_id = ", attempt)),
                         &manager);
  ASSERT_GT(manager, 0);
  ASSERT_EQ(::kill(manager, SIGKILL), 0);
  // haid relaunches a manager, which adopts the running jobs by their ids.
  ASSERT_TRUE(WaitFor(
      [&] {
        int pid = 0;
        (void)absl::SimpleAtoi(
            cluster_->db().Query(
                absl::StrCat("SELECT manager_pid FROM attempts WHERE attempt_id = ", attempt)),
            &pid);
        return pid > 0 && pid != manager;
      },
      20000))
      << Diagnose();
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(chain) == "succeeded"; }, 60000))
      << Diagnose();
  EXPECT_EQ(
      cluster_->db().Query(absl::StrCat("SELECT count(*) FROM attempts WHERE chain_id = ", chain)),
      "1");                        // adopted, not rerun
  EXPECT_EQ(Pods(attempt), pods);  // the same Slurm jobs
  EXPECT_EQ(Checkpoint(0), total);
  EXPECT_EQ(Checkpoint(1), total);
  // The replacement manager says so in the attempt's manager log.
  std::ifstream manager_log(absl::StrCat(cluster_->dir(), "/var/managers/", attempt, ".log"));
  std::stringstream log;
  log << manager_log.rdbuf();
  EXPECT_THAT(log.str(), HasSubstr(absl::StrCat("adopted rank 1 (pid ", pods.at(1).second, ")")));
}

TEST_F(SlurmRuntime, NodeDrainedInSlurmRequeuesTheTaskThereAndIsCordonedInHai) {
  Start(3, 1);
  const int total = 100;
  const int64_t chain = SubmitTrain("alice", total, "-n 2", false);
  ASSERT_TRUE(WaitFor([&] { return Checkpoint(0) >= 10 && Checkpoint(1) >= 10; }, 30000))
      << Diagnose();
  const int64_t first = LatestAttempt(chain);
  const auto pods = Pods(first);
  const std::string drained = pods.at(1).first;
  auto drain = Slurm(absl::StrCat("scontrol update nodename=", drained,
                                  " state=drain reason='disk check by admin'"));
  ASSERT_EQ(drain.exit_code, 0) << drain.output;
  // The attempt there is requeued as a lost rank, naming Slurm's reason...
  ASSERT_TRUE(WaitFor([&] { return AttemptStates(chain).size() >= 2; }, 30000)) << Diagnose();
  EXPECT_EQ(AttemptStates(chain)[0], "suspended");
  const std::string reason = cluster_->db().Query(
      absl::StrCat("SELECT end_reason FROM attempts WHERE attempt_id = ", first));
  EXPECT_THAT(reason, HasSubstr("lost on node " + drained));
  EXPECT_THAT(reason, HasSubstr("disk check by admin"));
  // ...hai's host follows Slurm's node...
  EXPECT_TRUE(WaitFor(
      [&] {
        return cluster_->db()
                   .Query("SELECT state || ' ' || state_reason FROM hosts WHERE node = '" +
                          drained + "'")
                   .find("cordoned slurm: drain") == 0;
      },
      10000))
      << cluster_->db().Query("SELECT state || ' ' || state_reason FROM hosts WHERE node = '" +
                              drained + "'");
  // ...and the task resumes on the other two nodes, to the exact step.
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(chain) == "succeeded"; }, 60000))
      << Diagnose();
  for (const auto& [rank, pod] : Pods(LatestAttempt(chain))) EXPECT_NE(pod.first, drained);
  EXPECT_EQ(Checkpoint(0), total);
  EXPECT_EQ(Checkpoint(1), total);
  // Back in service in Slurm: back to ready in hai.
  Slurm(absl::StrCat("scontrol update nodename=", drained, " state=resume"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return cluster_->db().Query("SELECT state FROM hosts WHERE node = '" + drained + "'") ==
               "ready";
      },
      10000));
}

}  // namespace
}  // namespace hai::testing
