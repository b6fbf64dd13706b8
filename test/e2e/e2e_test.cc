// End-to-end: haid + hai-manager + hai-cli against the real Postgres and Redis, with real
// processes on 4 local nodes x 2 GPUs. Each test states the scenario it proves.
#include <signal.h>

#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;

// The JSON object in a command's output (from the first '{'), or "" when there is none.
std::string JsonPart(const std::string& output) {
  const size_t brace = output.find('{');
  return brace == std::string::npos ? std::string() : output.substr(brace);
}

int64_t AsInt(const nlohmann::json& v) {
  return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
}

class E2E : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(4, 2);
    cluster_->AddUser("alice", "alice-token");
    cluster_->AddUser("bob", "bob-token");
    cluster_->StartDaemon();
  }

  // Submits as `user`; returns the chain id.
  int64_t Submit(const std::string& user, const std::string& script_and_opts) {
    // hai options (here --json) come after `--`; without one, --json would be a script arg.
    const bool has_sep = script_and_opts.find(" -- ") != std::string::npos;
    auto r = cluster_->Cli(user, "python " + script_and_opts + (has_sep ? " --json" : " -- --json"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto j = nlohmann::json::parse(JsonPart(r.output), nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "submit output is not JSON: " << r.output;
      return 0;
    }
    const auto& task = j.contains("task") ? j["task"] : j;
    return AsInt(task["chain_id"]);
  }

  nlohmann::json Status(const std::string& user, int64_t id) {
    auto r = cluster_->Cli(user, absl::StrCat("status ", id, " --json"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto j = nlohmann::json::parse(JsonPart(r.output), nullptr, false);
    return j.contains("task") ? j["task"] : j;
  }

  std::string State(const std::string& user, int64_t id) {
    auto s = Status(user, id);
    return s.value("state", "");
  }

  // Process-group ids of the chain's pods, from Postgres.
  std::vector<int> PodGroups(int64_t chain_id) {
    auto conn = cluster_->db().Connect();
    pqxx::nontransaction tx(*conn);
    std::vector<int> out;
    for (const auto& r : tx.exec_params(
             "SELECT p.pid FROM pods p JOIN attempts a USING (attempt_id) "
             "WHERE a.chain_id = $1 AND p.pid IS NOT NULL",
             chain_id)) {
      out.push_back(r[0].as<int>());
    }
    return out;
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(E2E, TwoNodeTaskRunsEveryRankAndLogsFollowExitsZero) {
  std::string script = cluster_->WriteScript(
      "ranks.py",
      "import os\n"
      "print('RANK=%s WORLD_SIZE=%s CUDA_VISIBLE_DEVICES=%s' % (os.environ['RANK'], "
      "os.environ['WORLD_SIZE'], os.environ['CUDA_VISIBLE_DEVICES']))\n");
  int64_t id = Submit("alice", script + " -- -n 2");
  auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", id));
  EXPECT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_THAT(logs.output, HasSubstr("RANK=0 WORLD_SIZE=2 CUDA_VISIBLE_DEVICES=0,1"));
  EXPECT_THAT(logs.output, HasSubstr("RANK=1 WORLD_SIZE=2 CUDA_VISIBLE_DEVICES=0,1"));
  auto status = Status("alice", id);
  EXPECT_EQ(status["state"], "SUCCEEDED");
  ASSERT_EQ(status["attempts"].size(), 1u);
  EXPECT_EQ(status["attempts"][0]["pods"].size(), 2u);
}

TEST_F(E2E, BashScriptGetsItsArgumentsAndFollowReturnsItsExitCode) {
  std::string script = cluster_->WriteScript(
      "job.sh", "echo \"args: $1|$2 rank $RANK of $WORLD_SIZE\"\necho oops >&2\nexit 7\n");
  auto r = cluster_->Cli("alice", "bash " + script + " 'a b' c -- -f");
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_THAT(r.output, HasSubstr("args: a b|c rank 0 of 1"));
  EXPECT_THAT(r.output, HasSubstr("[err] oops"));
}

TEST_F(E2E, ScriptExitingThreeEndsFailedWithExitCodeRecorded) {
  std::string script = cluster_->WriteScript("fail.py", "import sys\nprint('bye')\nsys.exit(3)\n");
  int64_t id = Submit("alice", script);
  auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", id));
  EXPECT_EQ(logs.exit_code, 3) << logs.output;
  auto status = Status("alice", id);
  EXPECT_EQ(status["state"], "FAILED");
  EXPECT_EQ(AsInt(status["exit_code"]), 3);
  EXPECT_THAT(status["attempts"][0].value("end_reason", ""), HasSubstr("3"));
  auto conn = cluster_->db().Connect();
  pqxx::nontransaction tx(*conn);
  EXPECT_EQ(tx.exec_params1("SELECT exit_code FROM attempts WHERE chain_id = $1", id)[0].as<int>(),
            3);
}

TEST_F(E2E, StopEndsASleepingTaskWithinTheGraceAndLeavesNoProcess) {
  std::string script = cluster_->WriteScript("sleep.py", "import time\ntime.sleep(600)\n");
  int64_t id = Submit("alice", script);
  ASSERT_TRUE(
      WaitFor([&] { return State("alice", id) == "RUNNING" && !PodGroups(id).empty(); }, 15000))
      << cluster_->DaemonLog();
  std::vector<int> groups = PodGroups(id);
  auto stop = cluster_->Cli("alice", absl::StrCat("stop ", id));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  // kill_grace is 2 s in this cluster's config; allow the manager's poll on top.
  EXPECT_TRUE(WaitFor([&] { return State("alice", id) == "STOPPED"; }, 6000));
  for (int pgid : groups) {
    EXPECT_NE(kill(-pgid, 0), 0) << "process group " << pgid << " still alive";
  }
  auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", id));
  EXPECT_EQ(logs.exit_code, 130) << logs.output;
}

TEST_F(E2E, UsersCannotSeeOrStopEachOthersTasks) {
  std::string script = cluster_->WriteScript("nap.py", "import time\ntime.sleep(600)\n");
  int64_t id = Submit("alice", script);
  auto see = cluster_->Cli("bob", absl::StrCat("status ", id));
  EXPECT_EQ(see.exit_code, 3) << see.output;
  auto stop = cluster_->Cli("bob", absl::StrCat("stop ", id));
  EXPECT_EQ(stop.exit_code, 3) << stop.output;
  auto logs = cluster_->Cli("bob", absl::StrCat("logs ", id));
  EXPECT_EQ(logs.exit_code, 3) << logs.output;
  auto list = cluster_->Cli("bob", "list --json");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.output, ::testing::Not(HasSubstr("nap")));
  EXPECT_NE(State("alice", id), "STOPPED");
  cluster_->Cli("alice", absl::StrCat("stop ", id));
}

TEST_F(E2E, RestartingHaidWhileATaskRunsLosesNothing) {
  std::string marker = cluster_->dir() + "/go";
  std::string script = cluster_->WriteScript(
      "wait.py",
      "import os, time\n"
      "print('started', flush=True)\n"
      "while not os.path.exists('" + marker + "'):\n"
      "    time.sleep(0.05)\n"
      "print('finished')\n");
  int64_t id = Submit("alice", script + " -- -n 2");
  ASSERT_TRUE(WaitFor([&] { return State("alice", id) == "RUNNING"; }, 15000));
  cluster_->KillDaemon();
  cluster_->StartDaemon();
  EXPECT_EQ(State("alice", id), "RUNNING");
  RunCommand("touch " + marker);
  auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", id));
  EXPECT_EQ(logs.exit_code, 0) << logs.output << cluster_->DaemonLog();
  EXPECT_THAT(logs.output, HasSubstr("finished"));
  auto status = Status("alice", id);
  EXPECT_EQ(status["state"], "SUCCEEDED");
  EXPECT_EQ(status["attempts"].size(), 1u);  // the running attempt was adopted, not rerun
}

TEST_F(E2E, BadSubmitsGetTypedErrorsAndChangeNothing) {
  std::string script = cluster_->WriteScript("ok.py", "print('ok')\n");
  struct Case {
    std::string args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      // Caught by hai-cli before any RPC (usage errors, exit 2); the server applies the
      // same rules to other clients (scheduler/api/submit_validation.cc, unit-tested).
      {script + " -- -n 0", 2, "nodes must be at least 1 (got 0)"},
      {script + " -- -n -3", 2, "nodes must be at least 1 (got -3)"},
      {script + " -- -p SUPERHIGH", 2, "unknown priority 'SUPERHIGH'"},
      {script + " -- -n 100000", 5, "nodes must be between 1"},
      {script + " -- -g nosuchgroup", 4, "no node group 'nosuchgroup'"},
      {script + " -- -n 5", 5, ""},               // more nodes than the group has
      {script + " -- -p VERY_HIGH", 5, "quota"},  // no VERY_HIGH quota at all
      {script + " -- --name " + std::string(300, 'x'), 5, "task name"},
      {script + " -- -e HAI_TASK_ID=1", 5, "set by hai"},
      {script + " -- -i Ubuntu:Latest", 5, "invalid image reference 'Ubuntu:Latest'"},
      {cluster_->dir() + "/missing.py", 2, "missing.py"},  // caught by hai-cli itself
  };
  for (const Case& c : cases) {
    auto r = cluster_->Cli("alice", "python " + c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << "\n" << r.output;
    if (!c.message.empty()) {
      EXPECT_THAT(r.output, HasSubstr(c.message)) << c.args;
    }
  }
  auto conn = cluster_->db().Connect();
  pqxx::nontransaction tx(*conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM chains")[0][0].as<int>(), 0);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM attempts")[0][0].as<int>(), 0);
}

TEST_F(E2E, UnknownTokenIsRefused) {
  auto r = RunCommand(absl::StrCat(BinDir(), "/hai-cli list"),
                      {{"HAI_CONFIG_DIR", cluster_->dir() + "/home-alice"},
                       {"HAI_TOKEN", "not-a-token"}});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("unknown token"));
}

// scheduler.max_open_tasks_per_user bounds what one user can queue: past it a submit is
// refused (exit 5, RESOURCE_EXHAUSTED) and writes nothing; a finished task frees a place;
// other users are not affected.
TEST(E2ELimits, OpenTaskCapRefusesTheNextSubmitUntilOneFinishes) {
  Cluster cluster(1, 1, "", "max_open_tasks_per_user = 2");
  cluster.AddUser("alice", "alice-token");
  cluster.AddUser("bob", "bob-token");
  cluster.StartDaemon();
  const std::string nap = cluster.WriteScript("nap.py", "import time\ntime.sleep(600)\n");
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = cluster.Cli("alice", absl::StrCat("python ", nap, " -- --name t", i, " --json"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto j = nlohmann::json::parse(JsonPart(r.output), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.output;
    ids.push_back(std::to_string(AsInt((j.contains("task") ? j["task"] : j)["chain_id"])));
  }
  auto third = cluster.Cli("alice", "python " + nap + " -- --name t2");
  EXPECT_EQ(third.exit_code, 5) << third.output;
  EXPECT_THAT(third.output, HasSubstr("has 2 open tasks"));
  EXPECT_THAT(third.output, HasSubstr("max_open_tasks_per_user"));
  EXPECT_EQ(cluster.Cli("bob", "python " + nap + " -- --name b0").exit_code, 0);
  {
    auto conn = cluster.db().Connect();
    pqxx::nontransaction tx(*conn);
    EXPECT_EQ(tx.exec("SELECT count(*) FROM chains WHERE user_name = 'alice'")[0][0].as<int>(), 2);
  }
  ASSERT_EQ(cluster.Cli("alice", "stop " + ids[0]).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      [&] { return cluster.Cli("alice", "python " + nap + " -- --name t3").exit_code == 0; },
      15000))
      << cluster.DaemonLog();
}

TEST(E2EConfig, MalformedConfigStopsHaidAndNamesTheKey) {
  const std::string dir = MakeTempDir("hai-badcfg-");
  const std::string path = dir + "/haid.toml";
  RunCommand("printf '[scheduler]\\ntick_ms = -5\\n' > " + path);
  auto r = RunCommand(absl::StrCat(BinDir(), "/haid --config ", path));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("scheduler.tick_ms"));
  RunCommand("printf '[scheduler]\\ntikc_ms = 5\\n' > " + path);
  r = RunCommand(absl::StrCat(BinDir(), "/haid --config ", path));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("tikc_ms"));
}

}  // namespace
}  // namespace hai::testing
