// End-to-end time-sharing (issue 3): a HIGH task takes nodes from a running LOW training
// within seconds by suspension; the LOW task checkpoints through the Python SDK, is requeued
// keeping its place, and resumes from its checkpoint to the exact step count once the nodes
// free up. A second variant ignores the notice and is killed after the grace period, and
// still resumes from its last periodic checkpoint. Real haid, managers, Python and Postgres.
#include <chrono>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;


// Counts steps (0.1 s each), checkpoints every 5 steps (atomically) into CKPT_DIR, and, when
// LISTEN is set, saves and calls go_suspend() as soon as the notice arrives.
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
    print("fresh start, world %d" % hai.world_size(), flush=True)
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

// The JSON object in a command's output (from the first '{'), or "" when there is none.
std::string JsonPart(const std::string& output) {
  const size_t brace = output.find('{');
  return brace == std::string::npos ? std::string() : output.substr(brace);
}

int64_t AsInt(const nlohmann::json& v) {
  return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
}

class Preemption : public ::testing::Test {
 protected:
  void SetUp() override {
    // 2 nodes x 1 GPU; suspend grace 3 s so the ignoring variant stays quick.
    cluster_ = std::make_unique<Cluster>(2, 1, "");
    cluster_->AddUser("alice", "alice-token");
    cluster_->AddUser("bob", "bob-token");
    cluster_->StartDaemon();
    ckpt_dir_ = cluster_->dir() + "/ckpt";
    // Writable by the tasks: run as root, haid runs them as their users' uids.
    RunCommand("mkdir -p " + ckpt_dir_ + " && chmod 1777 " + ckpt_dir_);
  }

  int64_t Submit(const std::string& user, const std::string& args) {
    auto r = cluster_->Cli(user, "python " + args + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto j = nlohmann::json::parse(JsonPart(r.output), nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "submit output is not JSON: " << r.output;
      return 0;
    }
    return AsInt(j.contains("task") ? j["task"]["chain_id"] : j["chain_id"]);
  }

  // States of the chain's attempts in attempt order, straight from Postgres (cheap enough
  // to poll every 50 ms, unlike spawning hai-cli).
  std::vector<std::string> AttemptStates(int64_t chain_id) {
    auto conn = cluster_->db().Connect();
    pqxx::nontransaction tx(*conn);
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params(
             "SELECT state FROM attempts WHERE chain_id = $1 ORDER BY attempt_no", chain_id)) {
      out.push_back(r[0].as<std::string>());
    }
    return out;
  }
  std::string CurrentState(int64_t chain_id) {
    auto s = AttemptStates(chain_id);
    return s.empty() ? "" : s.back();
  }
  std::set<std::string> RunningNodes(int64_t chain_id) {
    auto conn = cluster_->db().Connect();
    pqxx::nontransaction tx(*conn);
    std::set<std::string> out;
    for (const auto& r : tx.exec_params(
             "SELECT p.node FROM pods p JOIN attempts a USING (attempt_id) "
             "WHERE a.chain_id = $1 AND a.state = 'running'",
             chain_id)) {
      out.insert(r[0].as<std::string>());
    }
    return out;
  }
  int Checkpoint(int rank) {
    std::ifstream f(absl::StrCat(ckpt_dir_, "/rank", rank, ".json"));
    std::stringstream ss;
    ss << f.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    return j.is_discarded() ? -1 : j.value("step", -1);
  }

  // Runs the whole scenario; `listen` says whether the LOW task honours the notice.
  void RunScenario(bool listen, int total_steps, int within_ms) {
    const std::string train = cluster_->WriteScript("train.py", kTrainScript);
    const std::string quick = cluster_->WriteScript(
        "quick.py", "import time\nprint('high priority work', flush=True)\ntime.sleep(3)\n");
    const int64_t low = Submit(
        "alice", absl::StrCat(train, " ", total_steps, " -- -n 2 -p LOW -e PYTHONPATH=",
                              HAI_SOURCE_DIR, "/python -e CKPT_DIR=", ckpt_dir_,
                              " -e LISTEN=", listen ? 1 : 0));
    // Let it make progress past its first checkpoint.
    ASSERT_TRUE(WaitFor([&] { return Checkpoint(0) >= 10 && Checkpoint(1) >= 10; }, 20000))
        << cluster_->DaemonLog();
    ASSERT_EQ(CurrentState(low), "running");
    const std::set<std::string> low_nodes = RunningNodes(low);
    ASSERT_EQ(low_nodes.size(), 2u);

    const auto t0 = std::chrono::steady_clock::now();
    const int64_t high = Submit("bob", quick + " -- -n 1 -p HIGH");
    ASSERT_TRUE(WaitFor([&] { return CurrentState(high) == "running"; }, within_ms))
        << "HIGH task not running within " << within_ms << " ms; low attempts: "
        << ::testing::PrintToString(AttemptStates(low)) << "\n"
        << cluster_->DaemonLog();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    RecordProperty("high_running_after_ms", static_cast<int>(took.count()));
    std::set<std::string> high_nodes = RunningNodes(high);
    ASSERT_EQ(high_nodes.size(), 1u);
    EXPECT_TRUE(low_nodes.count(*high_nodes.begin())) << "HIGH should run on a freed node";
    // A's chain: the suspended attempt and the queued one that keeps its place.
    EXPECT_THAT(AttemptStates(low), ::testing::ElementsAre("suspended", "queued"));
    const int saved = Checkpoint(0);
    EXPECT_GT(saved, 0);
    if (listen) {
      EXPECT_LT(took.count(), 2000);
    }

    // B finishes; A resumes by itself from its checkpoint and ends with the exact count.
    auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", low));
    EXPECT_EQ(logs.exit_code, 0) << logs.output << cluster_->DaemonLog();
    EXPECT_THAT(logs.output, HasSubstr("resumed from step"));
    EXPECT_THAT(logs.output, HasSubstr(absl::StrCat("done ", total_steps, " steps")));
    if (listen) {
      EXPECT_THAT(logs.output, HasSubstr("checkpoint saved"));
    }
    EXPECT_EQ(Checkpoint(0), total_steps);
    EXPECT_EQ(Checkpoint(1), total_steps);
    EXPECT_THAT(AttemptStates(low), ::testing::ElementsAre("suspended", "succeeded"));
    EXPECT_EQ(CurrentState(high), "succeeded");

    // The decision is explainable: the suspension names its preemptor, status shows why the
    // first attempt ended.
    auto conn = cluster_->db().Connect();
    pqxx::nontransaction tx(*conn);
    auto ev = tx.exec_params(
        "SELECT count(*) FROM task_events WHERE chain_id = $1 AND kind = 'suspend_requested' "
        "AND detail::text LIKE '%' || $2 || '%'",
        low, std::to_string(high));
    EXPECT_GE(ev[0][0].as<int>(), 1) << "no suspend_requested event naming the preemptor";
    auto victims = tx.exec_params(
        "SELECT count(*) FROM task_events WHERE chain_id = $1 AND kind = 'preempting' "
        "AND (detail->>'victim_chain_id')::bigint = $2",
        high, low);
    EXPECT_EQ(victims[0][0].as<int>(), 1) << "the preemptor's history must name its victim";
    auto status = cluster_->Cli("alice", absl::StrCat("status ", low));
    EXPECT_EQ(status.exit_code, 0) << status.output;
    EXPECT_THAT(status.output, HasSubstr("suspended"));
  }

  std::unique_ptr<Cluster> cluster_;
  std::string ckpt_dir_;
};

TEST_F(Preemption, HighTaskSuspendsLowTrainingWhichResumesFromItsCheckpoint) {
  RunScenario(/*listen=*/true, /*total_steps=*/60, /*within_ms=*/2000);
}

TEST_F(Preemption, TaskIgnoringTheNoticeIsKilledAfterTheGraceAndStillResumes) {
  // suspend_grace_s = 5 and kill_grace_s = 2 in the harness; allow the pass and poll on top.
  // 150 steps (15 s) outlast the grace, so the kill really interrupts the training.
  RunScenario(/*listen=*/false, /*total_steps=*/150, /*within_ms=*/10000);
}

TEST_F(Preemption, QueueExplainsWaitingAndUserSuspendResumeAndPriorityWork) {
  const std::string nap = cluster_->WriteScript("nap.py", "import time\ntime.sleep(600)\n");
  const int64_t big = Submit("alice", nap + " -- -n 2 -p NORMAL --name big");
  ASSERT_TRUE(WaitFor([&] { return CurrentState(big) == "running"; }, 15000))
      << cluster_->DaemonLog();
  const int64_t waiting = Submit("bob", nap + " -- -n 1 -p LOW --name small");

  // `queue` says where bob's task stands and why: the nodes are busy, no preemption (LOW).
  nlohmann::json entry;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto q = cluster_->Cli("bob", "queue --json");
        auto j = nlohmann::json::parse(JsonPart(q.output), nullptr, false);
        if (j.is_discarded() || !j.contains("entries") || j["entries"].empty()) return false;
        entry = j["entries"][0];
        return true;
      },
      5000));
  EXPECT_EQ(AsInt(entry["chain_id"]), waiting);
  EXPECT_EQ(entry.value("reason", ""), "WAITING_FOR_NODES") << entry.dump();
  EXPECT_EQ(AsInt(entry["position"]), 1);
  auto table = cluster_->Cli("bob", "queue");
  EXPECT_THAT(table.output, HasSubstr("WAITING_FOR_NODES"));

  // alice suspends her task by hand: it stops (held), and bob's task gets a node.
  auto sus = cluster_->Cli("alice", absl::StrCat("suspend ", big));
  ASSERT_EQ(sus.exit_code, 0) << sus.output;
  ASSERT_TRUE(WaitFor([&] { return CurrentState(waiting) == "running"; }, 15000))
      << cluster_->DaemonLog();
  EXPECT_EQ(CurrentState(big), "suspended");
  // Held: it is not requeued until she resumes it.
  EXPECT_THAT(AttemptStates(big), ::testing::ElementsAre("suspended"));

  // Resume requeues it; raising it to HIGH lets it take the nodes back from bob's LOW task.
  ASSERT_EQ(cluster_->Cli("alice", absl::StrCat("resume ", big)).exit_code, 0);
  EXPECT_THAT(AttemptStates(big), ::testing::ElementsAre("suspended", "queued"));
  auto prio = cluster_->Cli("alice", absl::StrCat("priority ", big, " HIGH"));
  ASSERT_EQ(prio.exit_code, 0) << prio.output;
  ASSERT_TRUE(WaitFor([&] { return CurrentState(big) == "running"; }, 15000))
      << cluster_->DaemonLog();
  EXPECT_THAT(AttemptStates(waiting), ::testing::ElementsAre("suspended", "queued"));

  // The running task cannot be lifted to a tier alice has no quota for (the harness's public
  // quota covers LOW, NORMAL and HIGH only): refused, and it keeps running at HIGH.
  auto lift = cluster_->Cli("alice", absl::StrCat("priority ", big, " EXTREME_HIGH"));
  EXPECT_EQ(lift.exit_code, 5) << lift.output;  // kExitRejected
  EXPECT_THAT(lift.output, HasSubstr("EXTREME_HIGH"));
  EXPECT_EQ(CurrentState(big), "running");

  // Users cannot steer each other's tasks.
  EXPECT_EQ(cluster_->Cli("bob", absl::StrCat("suspend ", big)).exit_code, 3);
  EXPECT_EQ(cluster_->Cli("bob", absl::StrCat("priority ", big, " LOW")).exit_code, 3);
}

}  // namespace
}  // namespace hai::testing
