// End-to-end time limits (issue 21) through the live daemon: `-t` is never a kill. A task
// past its limit keeps running until a reservation needs its node; then it is suspended
// through the normal protocol (notice, checkpoint, requeue keeping its place) and resumes
// from its checkpoint. A task whose limit ends before a waiting gang can start is backfilled
// onto the gang's reserved node; one without a limit is not. Real haid, managers, Python and
// Postgres, on 2 nodes x 1 GPU.
#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Counts steps (0.1 s each), checkpoints into CKPT_DIR every 5 steps and on the suspend
// notice, then asks to be suspended.
constexpr char kTrainScript[] = R"PY(
import json, os, sys, time
import hai

total = int(sys.argv[1])
path = os.path.join(os.environ["CKPT_DIR"], "limited.json")

def save(step):
    with open(path + ".tmp", "w") as f:
        json.dump({"step": step}, f)
    os.replace(path + ".tmp", path)

step = 0
if os.path.exists(path):
    with open(path) as f:
        step = json.load(f)["step"]
    print("resumed from step %d" % step, flush=True)
while step < total:
    time.sleep(0.1)
    step += 1
    if step % 5 == 0:
        save(step)
    if hai.receive_suspend_command():
        save(step)
        print("suspend notice at step %d, checkpoint saved" % step, flush=True)
        hai.go_suspend()
        time.sleep(600)  # the manager stops us now
save(step)
print("done %d steps" % step, flush=True)
)PY";

class TimeLimit : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(2, 1, "");
    cluster_->AddUser("alice", "alice-token");
    cluster_->AddUser("bob", "bob-token");
    cluster_->StartDaemon();
    ckpt_dir_ = cluster_->dir() + "/ckpt";
    RunCommand("mkdir -p " + ckpt_dir_ + " && chmod 1777 " + ckpt_dir_);
  }

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
  // Seconds since the chain's newest attempt started; -1 when it has not.
  double RunningFor(int64_t chain_id) {
    const std::string s = cluster_->db().Query(absl::StrCat(
        "SELECT coalesce(extract(epoch FROM clock_timestamp() - started_at), -1) FROM attempts "
        "WHERE chain_id = ",
        chain_id, " ORDER BY attempt_no DESC LIMIT 1"));
    return s.empty() ? -1 : std::stod(s);
  }
  std::string NodesOf(int64_t chain_id) {
    return cluster_->db().Query(
        absl::StrCat("SELECT string_agg(DISTINCT p.node, ',' ORDER BY p.node) FROM pods p "
                     "JOIN attempts a USING (attempt_id) WHERE a.chain_id = ",
                     chain_id));
  }
  std::string QueueReason(const std::string& user, int64_t chain_id) {
    auto q = cluster_->Cli(user, "queue --json");
    const size_t brace = q.output.find('{');
    if (brace == std::string::npos) return "";
    auto j = nlohmann::json::parse(q.output.substr(brace), nullptr, false);
    if (j.is_discarded() || !j.contains("entries")) return "";
    for (const auto& e : j["entries"]) {
      const auto& id = e["chain_id"];
      if ((id.is_string() ? std::stoll(id.get<std::string>()) : id.get<int64_t>()) == chain_id)
        return e.value("reason", "");
    }
    return "";
  }

  std::unique_ptr<Cluster> cluster_;
  std::string ckpt_dir_;
};

TEST_F(TimeLimit, OverrunIsSuspendedForAGangNotKilledAndResumesFromItsCheckpoint) {
  const std::string train = cluster_->WriteScript("train.py", kTrainScript);
  const std::string nap = cluster_->WriteScript("nap.py", "import time\ntime.sleep(2)\n");
  const int total = 80;  // 8 s of work against a 2 s limit
  const int64_t limited = cluster_->Submit(
      "alice", absl::StrCat(train, " ", total),
      absl::StrCat("-n 1 -t 2s -e PYTHONPATH=", HAI_SOURCE_DIR, "/python -e CKPT_DIR=", ckpt_dir_));
  // Past its limit, with nobody needing its node, it is not touched: no kill at the limit.
  ASSERT_TRUE(WaitFor([&] { return RunningFor(limited) >= 3.5; }, 20000)) << cluster_->DaemonLog();
  EXPECT_THAT(AttemptStates(limited), ElementsAre("running"));
  auto status = cluster_->Cli("alice", absl::StrCat("status ", limited));
  EXPECT_THAT(status.output, HasSubstr("time limit")) << status.output;
  EXPECT_THAT(status.output, HasSubstr("2s")) << status.output;

  // A 2-node gang of the same tier needs its node: the overrun is suspended (checkpoint on
  // the notice), requeued keeping its place, and the gang starts on both nodes.
  const int64_t gang = cluster_->Submit("bob", nap, "-n 2");
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(gang) == "running"; }, 20000))
      << ::testing::PrintToString(AttemptStates(limited)) << cluster_->DaemonLog();
  EXPECT_EQ(NodesOf(gang), "node-0,node-1");
  EXPECT_THAT(AttemptStates(limited), ElementsAre("suspended", "queued"));
  EXPECT_EQ(cluster_->db().Query(
                absl::StrCat("SELECT count(*) FROM task_events WHERE chain_id = ", limited,
                             " AND kind = 'suspend_requested' AND detail->>'reason' LIKE "
                             "'ran past its time limit of 2s on nodes reserved for task %' AND "
                             "(detail->>'preemptor_chain_id')::bigint = ",
                             gang)),
            "1");

  // The gang ends; the task resumes from its checkpoint and finishes the exact count.
  auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", limited));
  EXPECT_EQ(logs.exit_code, 0) << logs.output << cluster_->DaemonLog();
  EXPECT_THAT(logs.output, HasSubstr("checkpoint saved"));
  EXPECT_THAT(logs.output, HasSubstr("resumed from step"));
  EXPECT_THAT(logs.output, HasSubstr(absl::StrCat("done ", total, " steps")));
  EXPECT_THAT(AttemptStates(limited), ElementsAre("suspended", "succeeded"));
  EXPECT_EQ(cluster_->CurrentState(gang), "succeeded");
}

TEST_F(TimeLimit, OnlyATaskEndingBeforeTheGangCanStartIsBackfilledOntoItsNode) {
  const std::string nap6 = cluster_->WriteScript("nap6.py", "import time\ntime.sleep(6)\n");
  const std::string nap2 = cluster_->WriteScript("nap2.py", "import time\ntime.sleep(2)\n");
  // One node runs a 6 s task that promised to end within 60 s.
  const int64_t first = cluster_->Submit("alice", nap6, "-n 1 -t 60s");
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(first) == "running"; }, 20000))
      << cluster_->DaemonLog();
  // The gang holds the free node until the first task's limit ends.
  const int64_t gang = cluster_->Submit("bob", nap2, "-n 2");
  // No limit: it might outlive the gang's start, so it may not take the held node.
  const int64_t unlimited = cluster_->Submit("alice", nap2, "-n 1");
  ASSERT_TRUE(
      WaitFor([&] { return QueueReason("alice", unlimited) == "BLOCKED_BY_RESERVATION"; }, 10000))
      << cluster_->Cli("alice", "queue").output << cluster_->DaemonLog();
  EXPECT_EQ(cluster_->CurrentState(gang), "queued");
  // A 20 s limit ends before the gang's start (the first task's limit end): it backfills.
  const int64_t limited = cluster_->Submit("alice", nap2, "-n 1 -t 20s");
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(limited) != "queued"; }, 10000))
      << cluster_->DaemonLog();
  EXPECT_EQ(cluster_->CurrentState(gang), "queued");  // it started ahead of the gang
  EXPECT_NE(NodesOf(limited), NodesOf(first));
  EXPECT_EQ(cluster_->CurrentState(unlimited), "queued");

  // Everything finishes; the task without a limit started only once the gang had.
  for (int64_t id : {first, gang, unlimited, limited}) {
    ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(id) == "succeeded"; }, 40000))
        << id << ": " << cluster_->CurrentState(id) << cluster_->DaemonLog();
  }
  EXPECT_EQ(cluster_->db().Query(absl::StrCat(
                "SELECT (SELECT min(scheduled_at) FROM attempts WHERE chain_id = ", unlimited,
                ") >= (SELECT min(scheduled_at) FROM attempts WHERE chain_id = ", gang, ")")),
            "t");
}

}  // namespace
}  // namespace hai::testing
