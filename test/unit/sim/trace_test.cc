// Reading traces, cluster descriptions and tier rules: the accepted forms, and a typed error
// naming file, line and column for each malformed input.
#include "bench/sim/trace.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "bench/sim/quota_file.h"
#include "bench/sim/tiers.h"
#include "gtest/gtest.h"

namespace hai::sim {
namespace {

class TraceTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(TraceTest, ReadsPhillyColumnsWithEmptyCells) {
  const std::string path =
      Write("t.csv",
            "job_id,user,vc,submit_time_s,duration_s,num_gpus,num_nodes,status\n"
            "philly-1,,6214e9,45,30,1,,\n"
            "philly-2,bob,11cb48,115.6,61,16,2,Pass\r\n"
            "\n");
  absl::StatusOr<std::vector<TraceJob>> jobs = LoadTrace(path, {});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].id, "philly-1");
  EXPECT_EQ((*jobs)[0].user, "anonymous");
  EXPECT_EQ((*jobs)[0].group, "6214e9");
  EXPECT_EQ((*jobs)[0].submit_s, 45);
  EXPECT_EQ((*jobs)[0].nodes, 0);
  EXPECT_EQ((*jobs)[1].user, "bob");
  EXPECT_EQ((*jobs)[1].submit_s, 116);  // rounded
  EXPECT_EQ((*jobs)[1].gpus, 16);
  EXPECT_EQ((*jobs)[1].nodes, 2);
}

TEST_F(TraceTest, TierColumnAndQuotedCells) {
  const std::string path = Write("q.csv",
                                 "job_id,group,submit_time_s,duration_s,num_gpus,prio\n"
                                 "\"a,1\",g,0,10,1,high\n"
                                 "b,g,0,10,1,\n");
  absl::StatusOr<std::vector<TraceJob>> jobs = LoadTrace(path, {.tier_column = "prio"});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ((*jobs)[0].id, "a,1");
  absl::StatusOr<std::vector<policy::Tier>> tiers =
      AssignTiers(*jobs, {.from_column = true, .default_tier = policy::Tier::kLow});
  ASSERT_TRUE(tiers.ok()) << tiers.status();
  EXPECT_EQ((*tiers)[0], policy::Tier::kHigh);
  EXPECT_EQ((*tiers)[1], policy::Tier::kLow);
}

TEST_F(TraceTest, BadCellsNameLineAndColumn) {
  const std::string header = "job_id,vc,submit_time_s,duration_s,num_gpus\n";
  struct Case {
    std::string row;
    std::string expect;
  } cases[] = {
      {"a,v,-1,10,1", ":2: column submit_time_s: '-1'"},
      {"a,v,0,x,1", ":2: column duration_s: 'x'"},
      {"a,v,0,10,0", ":2: column num_gpus: '0'"},
      {"a,v,0,10,", ":2: column num_gpus: ''"},
      {"a,,0,10,1", ":2: column vc: empty"},
      {"a,v,0,10,\"1", ":2: unterminated"},
  };
  for (const Case& c : cases) {
    const std::string path = Write("bad.csv", header + c.row + "\n");
    absl::StatusOr<std::vector<TraceJob>> jobs = LoadTrace(path, {});
    ASSERT_EQ(jobs.status().code(), absl::StatusCode::kInvalidArgument) << c.row;
    EXPECT_NE(jobs.status().message().find(c.expect), std::string::npos) << jobs.status();
  }
  const std::string dup = Write("dup.csv", header + "a,v,0,1,1\na,v,0,1,1\n");
  EXPECT_NE(LoadTrace(dup, {}).status().message().find("duplicate job id 'a'"), std::string::npos);
  const std::string nocol = Write("nocol.csv", "job_id,vc,submit_time_s,num_gpus\n");
  EXPECT_NE(LoadTrace(nocol, {}).status().message().find("no 'duration_s' column"),
            std::string::npos);
  EXPECT_EQ(LoadTrace("/nonexistent/trace.csv", {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TraceTest, ClusterCsvAndToml) {
  const std::string csv = Write("c.csv", "vc,node_num\nx,64\ny,8\n");
  absl::StatusOr<std::vector<GroupSpec>> g = LoadCluster(csv, 8);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->size(), 2u);
  EXPECT_EQ((*g)[0].name, "x");
  EXPECT_EQ((*g)[0].nodes, 64);
  EXPECT_EQ((*g)[0].gpus_per_node, 8);
  const std::string csv2 = Write("c2.csv", "group,nodes,gpus_per_node\na100,4,4\n");
  g = LoadCluster(csv2, 8);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)[0].gpus_per_node, 4);

  const std::string toml = Write("c.toml",
                                 "[[group]]\nname = \"a\"\nnodes = 3\n"
                                 "[[group]]\nname = \"b\"\nnodes = 2\ngpus_per_node = 4\n");
  g = LoadCluster(toml, 8);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->size(), 2u);
  EXPECT_EQ((*g)[0].gpus_per_node, 8);
  EXPECT_EQ((*g)[1].gpus_per_node, 4);

  const std::string dash = Write("d.csv", "group,nodes\nmy-group,4\n");
  EXPECT_NE(LoadCluster(dash, 8).status().message().find("contains '-'"), std::string::npos);
  const std::string zero = Write("z.csv", "group,nodes\ng,0\n");
  EXPECT_NE(LoadCluster(zero, 8).status().message().find(":2: column nodes"), std::string::npos);
  const std::string badkey = Write("k.toml", "[[group]]\nname = \"a\"\nnode = 3\n");
  EXPECT_NE(LoadCluster(badkey, 8).status().message().find("unknown key 'node'"),
            std::string::npos);
  const std::string twice = Write("t.csv", "group,nodes\ng,1\ng,2\n");
  EXPECT_EQ(LoadCluster(twice, 8).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TraceTest, ScaleRoundsHalvesUpAndKeepsOneNode) {
  absl::StatusOr<std::vector<GroupSpec>> g =
      ScaleCluster({{"a", 64, 8}, {"b", 3, 8}, {"c", 1, 8}}, 0.5);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*g)[0].nodes, 32);
  EXPECT_EQ((*g)[1].nodes, 2);
  EXPECT_EQ((*g)[2].nodes, 1);
  EXPECT_EQ(ScaleCluster({}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TraceTest, SeededTierSharesAreStableAndNearTheirShare) {
  std::vector<TraceJob> jobs(20000);
  TierRule rule;
  rule.shares = {{policy::Tier::kHigh, 10}};
  rule.seed = 7;
  absl::StatusOr<std::vector<policy::Tier>> a = AssignTiers(jobs, rule);
  absl::StatusOr<std::vector<policy::Tier>> b = AssignTiers(jobs, rule);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, *b);
  int high = 0;
  for (policy::Tier t : *a) high += t == policy::Tier::kHigh;
  EXPECT_GT(high, 1800);  // 10% of 20000 = 2000; 5 sigma is about 212
  EXPECT_LT(high, 2200);
  rule.seed = 8;
  EXPECT_NE(*AssignTiers(jobs, rule), *a);

  EXPECT_EQ(ParseTierShare("HIGH=10")->first, policy::Tier::kHigh);
  EXPECT_EQ(ParseTierShare("HIGH").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTierShare("URGENT=5").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTierShare("HIGH=101").status().code(), absl::StatusCode::kInvalidArgument);
  rule.shares = {{policy::Tier::kHigh, 60}, {policy::Tier::kLow, 50}};
  EXPECT_EQ(AssignTiers(jobs, rule).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<TraceJob> named(1);
  named[0].tier = "URGENT";
  EXPECT_EQ(AssignTiers(named, {.from_column = true}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// hai-sim's quota reader read lines through a 4 KiB buffer, so a longer row (a long user
// name here) was read as two malformed rows; it reads whole lines now.
TEST_F(TraceTest, QuotaRowsLongerThanFourKiB) {
  const std::string user(5000, 'u');
  const std::string path = Write("long_quota.csv", "owner_kind,owner,resource,quota\nuser," + user +
                                                       ",node-default-NORMAL,4\n");
  std::vector<SimJob> jobs(1);
  jobs[0].user = user;
  auto quota = LoadQuota(path, jobs);
  ASSERT_TRUE(quota.ok()) << quota.status();
  EXPECT_EQ(quota->at(policy::QuotaKey{user, "default", policy::Tier::kNormal}), 4);
}

}  // namespace
}  // namespace hai::sim
