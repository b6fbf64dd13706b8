// A live haid's /metrics passes `promtool check metrics` and exports every metric
// docs/monitoring.md lists (after a task ran, so the histograms have observations), and usage
// is answered on both interfaces: GET /api/v1/usage with a bearer token (the exact JSON shape
// the dashboard reads; a bad parameter is 400, no token 401) and `hai-cli usage`, a non-admin
// seeing their own rows only.
#include <fstream>
#include <regex>
#include <set>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;

TEST(Monitoring, MetricsLintCleanAndUsageAnswers) {
  Cluster cluster(2, 2);
  cluster.AddUser("alice", "alice-token");
  cluster.AddUser("root", "root-token", "admin");
  cluster.StartDaemon();
  const std::string script = cluster.WriteScript("quick.py", "import time\ntime.sleep(0.2)\n");
  const int64_t chain = cluster.Submit("alice", script, "-n 1 -p HIGH");
  ASSERT_GT(chain, 0);
  ASSERT_TRUE(WaitFor([&] { return cluster.CurrentState(chain) == "succeeded"; }, 60000))
      << cluster.DaemonLog();

  httplib::Client client("127.0.0.1", cluster.http_port());
  // The loop observes the start on a later pass: wait for the histogram's count.
  std::string text;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = client.Get("/metrics");
        if (!r || r->status != 200) return false;
        text = r->body;
        // ... and a pass after its end (the gauges are as of the last pass).
        return text.find("hai_submit_to_running_seconds_count{tier=\"HIGH\"} 1") !=
                   std::string::npos &&
               text.find("hai_managers{state=\"alive\"} 0\n") != std::string::npos;
      },
      20000))
      << text;
  const std::string path = cluster.dir() + "/metrics.txt";
  std::ofstream(path) << text;
  const CommandResult lint = RunCommand("promtool check metrics < " + path);
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  EXPECT_THAT(text, HasSubstr("hai_queueing_delay_seconds_count{tier=\"HIGH\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hai_nodes{group=\"default\",state=\"ready\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("hai_managers{state=\"alive\"} 0\n"));
  // Every metric the docs list is exported.
  std::ifstream doc(std::string(HAI_SOURCE_DIR) + "/docs/monitoring.md");
  const std::string docs((std::istreambuf_iterator<char>(doc)), {});
  const std::regex name("`(hai_[a-z_]+)`");
  int listed = 0;
  for (auto it = std::sregex_iterator(docs.begin(), docs.end(), name); it != std::sregex_iterator();
       ++it) {
    ++listed;
    EXPECT_THAT(text, HasSubstr("# TYPE " + (*it)[1].str() + " ")) << (*it)[1].str();
  }
  EXPECT_GT(listed, 25);

  // GET /api/v1/usage: the admin sees alice's GPU time and the unallocated row.
  httplib::Headers admin{{"Authorization", "Bearer root-token"}};
  auto usage = client.Get("/api/v1/usage?by=user", admin);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->status, 200) << usage->body;
  const auto body = nlohmann::json::parse(usage->body);
  EXPECT_EQ(body["by"], "user");
  EXPECT_TRUE(body["since"].get<std::string>().ends_with("Z"));
  std::set<std::string> keys;
  for (const auto& row : body["rows"]) {
    keys.insert(row["key"].get<std::string>());
    for (const char* f : {"gpu_hours_allocated", "gpu_hours_lost_to_preemption", "gpu_hours_idle",
                          "gpu_hours_unavailable"}) {
      EXPECT_TRUE(row[f].is_number()) << f;
    }
    if (row["key"] == "alice") {
      EXPECT_GT(row["gpu_hours_allocated"].get<double>(), 0);
    }
    if (row["key"] == "(unallocated)") {
      EXPECT_GT(row["gpu_hours_idle"].get<double>(), 0);
    }
  }
  EXPECT_EQ(keys, (std::set<std::string>{"(unallocated)", "alice"}));
  EXPECT_EQ(client.Get("/api/v1/usage")->status, 401);
  EXPECT_EQ(client.Get("/api/v1/usage?by=host", admin)->status, 400);
  EXPECT_EQ(client.Get("/api/v1/usage?since=yesterday", admin)->status, 400);
  EXPECT_EQ(client.Get("/api/v1/usage?color=red", admin)->status, 400);

  // hai-cli usage as alice: her own row only.
  const CommandResult mine = cluster.Cli("alice", "usage --since 1h --json");
  ASSERT_EQ(mine.exit_code, 0) << mine.output;
  const auto reply = nlohmann::json::parse(mine.output.substr(mine.output.find('{')));
  ASSERT_EQ(reply["rows"].size(), 1u) << mine.output;
  EXPECT_EQ(reply["rows"][0]["key"], "alice");
  EXPECT_EQ(reply["own_rows_only"], true);  // hai-cli --json keeps proto field names
  const CommandResult csv = cluster.Cli("root", "usage --by node-group --csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_THAT(csv.output, HasSubstr("node-group,gpu_hours_allocated,"));
  EXPECT_THAT(csv.output, HasSubstr("\ndefault,"));
  EXPECT_EQ(cluster.Cli("alice", "usage --by host").exit_code, 2);
}

}  // namespace
}  // namespace hai::testing
