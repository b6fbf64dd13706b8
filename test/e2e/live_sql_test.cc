// Live SQL administration (issue 4): admins edit tables with plain SQL and the running haid
// applies the change within a second (LISTEN/NOTIFY wakes the loop; every pass reloads the
// admin tables), with no restart. Invalid rows are reported and skipped, never fatal.
#include <chrono>

#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;

class LiveSql : public ::testing::Test {
 protected:
  void SetUp() override {
    // tick_ms is 500 in the harness; the NOTIFY path must beat it, so make the tick long.
    cluster_ = std::make_unique<Cluster>(2, 2, "");
    cluster_->AddUser("alice", "alice-token");
    SetTick(60000);
    // Lowered quotas suspend the youngest tasks over them (off by default).
    cluster_->SetSchedulerKey("suspend_over_quota", "true");
    cluster_->StartDaemon();
    script_ = cluster_->WriteScript("nap.py", "import time\ntime.sleep(600)\n");
  }

  // Rewrites tick_ms in the cluster's config (before the daemon starts).
  void SetTick(int ms) {
    RunCommand(absl::StrCat("sed -i 's/^tick_ms = .*/tick_ms = ", ms, "/' ",
                            cluster_->config_path()));
  }

  int64_t Submit(const std::string& opts) { return cluster_->Submit("alice", script_, opts); }
  std::string State(int64_t chain) { return cluster_->CurrentState(chain); }

  std::string Reason(int64_t chain) {
    auto q = cluster_->Cli("alice", "queue --json");
    auto j = nlohmann::json::parse(q.output.substr(std::min(q.output.find('{'), q.output.size())),
                                   nullptr, false);
    if (j.is_discarded() || !j.contains("entries")) return "";
    for (const auto& e : j["entries"]) {
      const auto& id = e["chain_id"];
      const int64_t v = id.is_string() ? std::stoll(id.get<std::string>()) : id.get<int64_t>();
      if (v == chain) return e.value("reason", "");
    }
    return "";
  }

  std::unique_ptr<Cluster> cluster_;
  std::string script_;
};

TEST_F(LiveSql, QuotaEditedWithPsqlUnblocksAWaitingTaskWithinASecond) {
  // alice's own LOW quota (1 node) overrides the public one: her second task waits.
  cluster_->db().Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
      "('user', 'alice', 'node-default-LOW', 1)");
  const int64_t first = Submit("-p LOW");
  ASSERT_TRUE(WaitFor([&] { return State(first) == "running"; }, 5000)) << cluster_->DaemonLog();
  const int64_t id = Submit("-p LOW");
  ASSERT_TRUE(WaitFor([&] { return Reason(id) == "OUT_OF_QUOTA"; }, 5000))
      << cluster_->DaemonLog();
  const auto t0 = std::chrono::steady_clock::now();
  RunCommand(absl::StrCat("psql -q '", cluster_->db().url(),
                          "' -c \"UPDATE quota SET quota = 2 WHERE owner = 'alice' AND "
                          "resource = 'node-default-LOW'\""));
  EXPECT_TRUE(WaitFor([&] { return State(id) == "running"; }, 1000))
      << "not running within 1 s of the quota edit; state " << State(id) << "\n"
      << cluster_->DaemonLog();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
  RecordProperty("quota_edit_to_running_ms", static_cast<int>(ms));
}

TEST_F(LiveSql, LoweringAQuotaSuspendsTheYoungestTaskOverIt) {
  cluster_->db().Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
      "('user', 'alice', 'node-default-LOW', 2)");
  const int64_t older = Submit("-p LOW");
  ASSERT_TRUE(WaitFor([&] { return State(older) == "running"; }, 5000)) << cluster_->DaemonLog();
  const int64_t younger = Submit("-p LOW");
  ASSERT_TRUE(WaitFor([&] { return State(younger) == "running"; }, 5000))
      << cluster_->DaemonLog();
  cluster_->db().Exec("UPDATE quota SET quota = 1 WHERE owner = 'alice'");
  // The younger task is suspended (grace: it ignores the notice) and requeued; it then
  // waits OUT_OF_QUOTA while the older one keeps running.
  EXPECT_TRUE(WaitFor([&] { return State(younger) == "queued"; }, 15000))
      << cluster_->DaemonLog();
  EXPECT_EQ(State(older), "running");
  EXPECT_TRUE(WaitFor([&] { return Reason(younger) == "OUT_OF_QUOTA"; }, 3000));
  auto conn = cluster_->db().Connect();
  pqxx::nontransaction tx(*conn);
  auto ev = tx.exec_params1(
      "SELECT detail->>'reason' FROM task_events WHERE chain_id = $1 AND "
      "kind = 'suspend_requested'",
      younger);
  EXPECT_THAT(ev[0].as<std::string>(), HasSubstr("over quota: alice holds 2 node(s) at LOW"));
}

TEST_F(LiveSql, ExpiredQuotaRowNoLongerCounts) {
  // A user row granting VERY_HIGH that expired a minute ago: the task cannot be admitted.
  cluster_->db().Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota, expire_at) VALUES "
      "('user', 'alice', 'node-default-VERY_HIGH', 2, now() - interval '1 minute')");
  auto r = cluster_->Cli("alice", "python " + script_ + " -- -p VERY_HIGH");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("quota"));
  // Extend it: the same submit is now accepted and runs.
  cluster_->db().Exec("UPDATE quota SET expire_at = now() + interval '1 hour' "
                      "WHERE resource = 'node-default-VERY_HIGH'");
  ASSERT_TRUE(WaitFor(
      [&] { return cluster_->Cli("alice", "whoami").output.find("VERY_HIGH") != std::string::npos; },
      2000));
  const int64_t id = Submit("-p VERY_HIGH");
  EXPECT_TRUE(WaitFor([&] { return State(id) == "running"; }, 3000)) << cluster_->DaemonLog();
}

TEST_F(LiveSql, InvalidQuotaRowIsReportedAndSchedulingContinues) {
  cluster_->db().Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
      "('public', 'public', 'node-default-URGENT', 3), "
      "('public', 'public', 'node-default-HIGH-extra', 1)");
  const int64_t id = Submit("-p NORMAL");
  EXPECT_TRUE(WaitFor([&] { return State(id) == "running"; }, 3000)) << cluster_->DaemonLog();
  EXPECT_TRUE(WaitFor(
      [&] { return cluster_->DaemonLog().find("node-default-URGENT") != std::string::npos; },
      2000))
      << cluster_->DaemonLog();
}

TEST_F(LiveSql, NodeAddedWithSqlBecomesSchedulableWithoutRestart) {
  // Both configured nodes busy with a 2-node task; a third node added by SQL takes the next.
  const int64_t big = Submit("-n 2");
  ASSERT_TRUE(WaitFor([&] { return State(big) == "running"; }, 5000)) << cluster_->DaemonLog();
  const int64_t next = Submit("-n 1");
  ASSERT_TRUE(WaitFor([&] { return Reason(next) == "WAITING_FOR_NODES"; }, 5000));
  cluster_->db().Exec(
      "INSERT INTO hosts (node, node_group, gpus) VALUES ('node-sql', 'default', 2)");
  EXPECT_TRUE(WaitFor([&] { return State(next) == "running"; }, 1000)) << cluster_->DaemonLog();
  auto conn = cluster_->db().Connect();
  pqxx::nontransaction tx(*conn);
  auto node = tx.exec_params1(
      "SELECT p.node FROM pods p JOIN attempts a USING (attempt_id) WHERE a.chain_id = $1",
      next);
  EXPECT_EQ(node[0].as<std::string>(), "node-sql");
}

TEST_F(LiveSql, CordonedNodeByHostsUpdateTakesNoNewWork) {
  cluster_->db().Exec("UPDATE hosts SET state = 'cordoned', state_reason = 'fan' "
                      "WHERE node = 'node-0'");
  const int64_t a = Submit("-n 1");
  ASSERT_TRUE(WaitFor([&] { return State(a) == "running"; }, 3000)) << cluster_->DaemonLog();
  const int64_t b = Submit("-n 1");
  EXPECT_TRUE(WaitFor([&] { return Reason(b) == "WAITING_FOR_NODES"; }, 3000));
  auto conn = cluster_->db().Connect();
  pqxx::nontransaction tx(*conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM pods WHERE node = 'node-0'")[0][0].as<int>(), 0);
  // Uncordon by SQL: b starts there.
  cluster_->db().Exec("UPDATE hosts SET state = 'ready', state_reason = '' WHERE node = 'node-0'");
  EXPECT_TRUE(WaitFor([&] { return State(b) == "running"; }, 1000)) << cluster_->DaemonLog();
}

}  // namespace
}  // namespace hai::testing
