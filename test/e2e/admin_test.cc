// `hai-cli admin` end to end against a real haid: the admin role is enforced server-side,
// tokens are issued once and rotate, disabled users are refused, quota and node changes apply
// without restart, drain moves running work through the suspend protocol.
#include <signal.h>

#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;

class Admin : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(2, 2, "");
    cluster_->AddUser("root", "root-token", "admin");
    cluster_->AddUser("alice", "alice-token");
    cluster_->StartDaemon();
    nap_ = cluster_->WriteScript("nap.py", "import time\ntime.sleep(600)\n");
  }

  int64_t Submit(const std::string& user, const std::string& opts) {
    return cluster_->Submit(user, nap_, opts);
  }
  std::string State(int64_t chain) { return cluster_->CurrentState(chain); }
  std::string Node(int64_t chain) {
    return cluster_->db().Query(absl::StrCat(
        "SELECT p.node FROM pods p JOIN attempts a USING (attempt_id) WHERE a.chain_id = ", chain,
        " AND a.state = 'running'"));
  }
  // Runs hai-cli with an explicit token (HAI_TOKEN overrides the saved one).
  CommandResult CliWithToken(const std::string& token, const std::string& args) {
    return cluster_->Cli("alice", absl::StrCat("--timeout 5 ", args), {{"HAI_TOKEN", token}});
  }

  std::unique_ptr<Cluster> cluster_;
  std::string nap_;
};

TEST_F(Admin, OnlyAdminsMayAdminister) {
  for (const char* cmd : {"admin user list", "admin quota list", "admin check",
                          "admin node cordon node-0", "admin user add mallory"}) {
    auto r = cluster_->Cli("alice", cmd);
    EXPECT_EQ(r.exit_code, 3) << cmd << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr("not an admin")) << cmd;
  }
  EXPECT_EQ(cluster_->db().Query("SELECT state FROM hosts WHERE node = 'node-0'"), "ready");
  EXPECT_EQ(cluster_->db().Query("SELECT count(*) FROM users WHERE user_name = 'mallory'"), "0");
}

TEST_F(Admin, TokensAreIssuedOnceRotateAndDisabledUsersAreRefused) {
  auto add = cluster_->Cli("root", "admin user add bob -g vision --json");
  ASSERT_EQ(add.exit_code, 0) << add.output;
  auto j = nlohmann::json::parse(add.output.substr(add.output.find('{')));
  const std::string token = j["token"];
  ASSERT_EQ(token.size(), 64u) << add.output;
  // Only the hash is stored.
  EXPECT_EQ(cluster_->db().Query(
                absl::StrCat("SELECT count(*) FROM users WHERE token_hash = '", token, "'")),
            "0");
  auto who = CliWithToken(token, "whoami");
  EXPECT_EQ(who.exit_code, 0) << who.output;
  EXPECT_THAT(who.output, HasSubstr("bob"));
  EXPECT_THAT(who.output, HasSubstr("vision"));

  auto rot = cluster_->Cli("root", "admin user rotate-token bob --json");
  ASSERT_EQ(rot.exit_code, 0) << rot.output;
  const std::string fresh = nlohmann::json::parse(rot.output.substr(rot.output.find('{')))["token"];
  EXPECT_EQ(CliWithToken(token, "whoami").exit_code, 3);
  EXPECT_EQ(CliWithToken(fresh, "whoami").exit_code, 0);

  ASSERT_EQ(cluster_->Cli("root", "admin user disable bob").exit_code, 0);
  auto refused = CliWithToken(fresh, "whoami");
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  auto list = cluster_->Cli("root", "admin user list");
  EXPECT_THAT(list.output, HasSubstr("bob"));
  EXPECT_EQ(cluster_->Cli("root", "admin user add bob").exit_code, 5);  // name taken
  EXPECT_EQ(cluster_->Cli("root", "admin user disable nobody").exit_code, 4);
}

// haid keeps authenticated users in memory for a few seconds (scheduler/api/auth.h); an edit
// of `users` by SQL reaches it by the table's NOTIFY, well before that.
TEST_F(Admin, UserDisabledOrReenabledBySqlTakesEffectWithinASecond) {
  ASSERT_EQ(CliWithToken("alice-token", "whoami").exit_code, 0);  // now cached
  cluster_->db().Exec("UPDATE users SET active = false WHERE user_name = 'alice'");
  EXPECT_TRUE(WaitFor([&] { return CliWithToken("alice-token", "whoami").exit_code == 3; }, 1000))
      << cluster_->DaemonLog();
  cluster_->db().Exec("UPDATE users SET active = true WHERE user_name = 'alice'");
  EXPECT_TRUE(WaitFor([&] { return CliWithToken("alice-token", "whoami").exit_code == 0; }, 1000));
  cluster_->db().Exec("UPDATE users SET token_hash = repeat('0', 64) WHERE user_name = 'alice'");
  EXPECT_TRUE(WaitFor([&] { return CliWithToken("alice-token", "whoami").exit_code == 3; }, 1000));
}

TEST_F(Admin, QuotaSetUnblocksAWaitingTask) {
  ASSERT_EQ(cluster_->Cli("root", "admin quota set user:alice node-default-LOW 1").exit_code, 0);
  const int64_t first = Submit("alice", "-p LOW");
  ASSERT_TRUE(WaitFor([&] { return State(first) == "running"; }, 5000)) << cluster_->DaemonLog();
  const int64_t second = Submit("alice", "-p LOW");
  WaitFor([] { return false; }, 1000);
  EXPECT_EQ(State(second), "queued");
  auto set = cluster_->Cli("root", "admin quota set user:alice node-default-LOW 2");
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_TRUE(WaitFor([&] { return State(second) == "running"; }, 2000)) << cluster_->DaemonLog();
  auto list = cluster_->Cli("root", "admin quota list");
  EXPECT_THAT(list.output, HasSubstr("user:alice"));
  // A typo is refused instead of being skipped later.
  auto bad = cluster_->Cli("root", "admin quota set user:alice node-default-URGENT 1");
  EXPECT_EQ(bad.exit_code, 5) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("node-<group>-<TIER>"));
  // An expiry past any date (here 10^12 hours: absl saturates it to the end of time) is a
  // typed refusal, not a Postgres error.
  auto forever =
      cluster_->Cli("root", "admin quota set user:alice node-default-LOW 2 --expire-in-hours 1e12");
  EXPECT_EQ(forever.exit_code, 5) << forever.output;
  EXPECT_THAT(forever.output, HasSubstr("before year 10000"));
}

TEST_F(Admin, CheckReportsInvalidRowsWhileSchedulingContinues) {
  cluster_->db().Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
      "('public', 'public', 'node-default-URGENT', 3)");
  const int64_t id = Submit("alice", "-n 1");
  ASSERT_TRUE(WaitFor([&] { return State(id) == "running"; }, 5000)) << cluster_->DaemonLog();
  auto check = cluster_->Cli("root", "admin check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("node-default-URGENT"));
}

TEST_F(Admin, CordonDrainAndAddNodes) {
  ASSERT_EQ(cluster_->Cli("root", "admin node cordon node-1 --reason disk").exit_code, 0);
  const int64_t a = Submit("alice", "-n 1");
  ASSERT_TRUE(WaitFor([&] { return State(a) == "running"; }, 5000)) << cluster_->DaemonLog();
  EXPECT_EQ(Node(a), "node-0");  // the cordoned node took nothing
  auto nodes = cluster_->Cli("alice", "nodes");
  EXPECT_THAT(nodes.output, HasSubstr("cordoned"));
  EXPECT_THAT(nodes.output, HasSubstr("disk"));
  auto admin_list = cluster_->Cli("root", "admin node list");
  EXPECT_EQ(admin_list.exit_code, 0) << admin_list.output;
  EXPECT_THAT(admin_list.output, HasSubstr("cordoned"));

  // Drain node-0: its task is suspended (it ignores the notice: killed after the 5 s grace),
  // requeued, and resumes on node-1 once that is uncordoned.
  ASSERT_EQ(cluster_->Cli("root", "admin node uncordon node-1").exit_code, 0);
  auto drain = cluster_->Cli("root", "admin node drain node-0 --reason maintenance");
  ASSERT_EQ(drain.exit_code, 0) << drain.output;
  EXPECT_THAT(drain.output, HasSubstr("suspending 1 task(s)"));
  ASSERT_TRUE(WaitFor([&] { return Node(a) == "node-1"; }, 20000)) << cluster_->DaemonLog();
  EXPECT_EQ(cluster_->db().Query(absl::StrCat("SELECT count(*) FROM attempts WHERE chain_id = ", a,
                                              " AND state = 'suspended'")),
            "1");

  // A node added through the CLI takes work without a restart.
  ASSERT_EQ(cluster_->Cli("root", "admin node add node-9 -g default --gpus 2").exit_code, 0);
  const int64_t b = Submit("alice", "-n 1");
  EXPECT_TRUE(WaitFor([&] { return Node(b) == "node-9"; }, 5000)) << cluster_->DaemonLog();
  EXPECT_EQ(cluster_->Cli("root", "admin node add node-9 -g default --gpus 2").exit_code, 5);
  EXPECT_EQ(cluster_->Cli("root", "admin node drain nope").exit_code, 4);
}

// A node whose ranks vanish (here: the rank's whole process group SIGKILLed, as when a node
// dies) is marked unhealthy; the task is requeued, not failed, resumes on another node, and
// the node takes nothing until an admin clears it.
TEST(NodeHealth, LostRanksMarkTheNodeUnhealthyAndTheTaskMovesOn) {
  Cluster cluster(2, 2, "");
  cluster.SetSchedulerKey("node_lost_ranks_unhealthy", "1");
  cluster.AddUser("root", "root-token", "admin");
  cluster.AddUser("alice", "alice-token");
  cluster.StartDaemon();
  const std::string nap = cluster.WriteScript("nap.py", "import time\ntime.sleep(600)\n");
  auto r = cluster.Cli("alice", absl::StrCat("python ", nap, " -- --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const int64_t chain = std::stoll(
      r.output.substr(r.output.find_first_of("0123456789", r.output.find("\"chain_id\""))));
  auto running_node = [&] {
    return cluster.db().Query(absl::StrCat(
        "SELECT p.node FROM pods p JOIN attempts a USING (attempt_id) WHERE a.chain_id = ", chain,
        " AND a.state = 'running' AND p.pid IS NOT NULL"));
  };
  ASSERT_TRUE(WaitFor([&] { return !running_node().empty(); }, 10000)) << cluster.DaemonLog();
  const std::string first = running_node();
  const std::string pgid = cluster.db().Query(absl::StrCat(
      "SELECT p.pid FROM pods p JOIN attempts a USING (attempt_id) WHERE a.chain_id = ", chain,
      " AND a.state = 'running'"));
  ASSERT_EQ(::kill(-std::stoi(pgid), SIGKILL), 0);

  ASSERT_TRUE(WaitFor([&] { return !running_node().empty() && running_node() != first; }, 15000))
      << cluster.DaemonLog();
  EXPECT_EQ(cluster.db().Query(absl::StrCat("SELECT state FROM hosts WHERE node = '", first, "'")),
            "unhealthy");
  EXPECT_THAT(cluster.db().Query(absl::StrCat("SELECT end_reason FROM attempts WHERE chain_id = ",
                                              chain, " AND attempt_no = 0")),
              HasSubstr("was lost on node " + first));
  auto nodes = cluster.Cli("alice", "nodes");
  EXPECT_THAT(nodes.output, HasSubstr("unhealthy"));
  // Cleared by an admin, it is schedulable again and the old losses no longer count.
  ASSERT_EQ(cluster.Cli("root", "admin node uncordon " + first).exit_code, 0);
  auto r2 = cluster.Cli("alice", absl::StrCat("python ", nap, " -- --name second --json"));
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  const int64_t second = std::stoll(
      r2.output.substr(r2.output.find_first_of("0123456789", r2.output.find("\"chain_id\""))));
  EXPECT_TRUE(WaitFor(
      [&] {
        return cluster.db().Query(
                   absl::StrCat("SELECT p.node FROM pods p JOIN attempts a USING (attempt_id) "
                                "WHERE a.chain_id = ",
                                second, " AND a.state = 'running'")) == first;
      },
      5000))
      << cluster.DaemonLog();
  EXPECT_EQ(cluster.db().Query(absl::StrCat("SELECT state FROM hosts WHERE node = '", first, "'")),
            "ready");
}

}  // namespace
}  // namespace hai::testing
