// Config parsing: defaults, every section, and a typed error naming the key for each kind of
// mistake an operator makes. A malformed config must stop haid before it touches anything.
#include "common/config.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hai {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, EmptyFileGivesTheDocumentedDefaults) {
  auto c = ParseConfig("", "empty.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.grpc_listen, "127.0.0.1:7611");
  EXPECT_EQ(c->server.http_listen, "127.0.0.1:7612");
  EXPECT_EQ(c->database.pool_size, 4);
  EXPECT_EQ(c->redis.port, 6380);
  EXPECT_EQ(c->scheduler.tick, absl::Seconds(1));
  EXPECT_EQ(c->scheduler.suspend_grace, absl::Seconds(30));
  EXPECT_EQ(c->scheduler.above_normal_demote_after, absl::Minutes(30));
  EXPECT_EQ(c->manager.runtime, "local");
  EXPECT_TRUE(c->nodes.empty());
}

TEST(ConfigTest, EverySectionIsRead) {
  auto c = ParseConfig(R"(
[server]
grpc_listen = "0.0.0.0:9000"
data_dir = "/data"
log_level = "debug"
[database]
url = "postgresql://x@db/hai"
pool_size = 8
[redis]
host = "r"
port = 7000
prefix = "p"
[scheduler]
tick_ms = 250
default_priority = "AUTO"
preemption = false
suspend_grace_s = 2.5
kill_grace_s = 0
min_runtime_s = 60
[scheduler.min_runtime_s_by_tier]
LOW = 0
NORMAL = 600
[manager]
heartbeat_ms = 100
runtime = "kubernetes"
[[nodes]]
name = "a"
group = "g"
gpus = 4
room = "r1"
switch = "s1"
[[nodes]]
name = "b"
jupyter = true
)",
                       "full.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.grpc_listen, "0.0.0.0:9000");
  EXPECT_EQ(c->server.log_level, "debug");
  EXPECT_EQ(c->database.pool_size, 8);
  EXPECT_EQ(c->redis.prefix, "p");
  EXPECT_EQ(c->scheduler.tick, absl::Milliseconds(250));
  EXPECT_EQ(c->scheduler.default_priority, "AUTO");
  EXPECT_FALSE(c->scheduler.preemption);
  EXPECT_EQ(c->scheduler.suspend_grace, absl::Milliseconds(2500));
  EXPECT_EQ(c->scheduler.kill_grace, absl::ZeroDuration());
  EXPECT_EQ(c->scheduler.min_runtime_by_tier.at("NORMAL"), absl::Minutes(10));
  EXPECT_EQ(c->scheduler.min_runtime_by_tier.at("LOW"), absl::ZeroDuration());
  EXPECT_EQ(c->manager.heartbeat, absl::Milliseconds(100));
  ASSERT_EQ(c->nodes.size(), 2u);
  EXPECT_EQ(c->nodes[0].sw, "s1");
  EXPECT_EQ(c->nodes[1].group, "default");
  EXPECT_TRUE(c->nodes[1].jupyter);
}

struct BadCase {
  std::string toml;
  std::string message;  // must appear in the error
};

TEST(ConfigTest, EachMistakeIsRejectedNamingTheKey) {
  const std::vector<BadCase> cases = {
      {"[scheduler]\ntick_ms = -5\n", "config key scheduler.tick_ms: must be a positive number"},
      {"[scheduler]\ntick_ms = \"fast\"\n", "scheduler.tick_ms"},
      {"[scheduler]\ntick_msec = 5\n", "config key scheduler.tick_msec: unknown key"},
      {"[schedular]\n", "config key schedular: unknown section or key"},
      {"[server]\nlog_level = \"loud\"\n", "server.log_level: must be one of"},
      {"[server]\ngrpc_listen = \"nohost\"\n", "server.grpc_listen: must be host:port"},
      {"[server]\nhttp_listen = \"h:99999\"\n", "server.http_listen"},
      {"[database]\npool_size = 0\n", "database.pool_size: must be an integer between 1"},
      {"[redis]\nport = 70000\n", "redis.port"},
      {"[manager]\nruntime = \"docker\"\n", "manager.runtime: must be one of kubernetes, local"},
      {"[scheduler]\ndefault_priority = \"URGENT\"\n", "scheduler.default_priority"},
      {"[scheduler]\npreemption = \"yes\"\n", "scheduler.preemption: must be true or false"},
      {"[scheduler.min_runtime_s_by_tier]\nMEDIUM = 3\n",
       "scheduler.min_runtime_s_by_tier.MEDIUM: unknown key"},
      {"[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"a\"\n", "nodes[1].name: duplicate node"},
      {"[[nodes]]\ngpus = 2\n", "nodes[0].name: is required"},
      {"[[nodes]]\nname = \"a\"\ngpus = -1\n", "nodes[0].gpus"},
      {"[[nodes]]\nname = \"a\"\ncolour = \"red\"\n", "nodes[0].colour: unknown key"},
      {"server = 3\n", "config key server: must be a table"},
      {"[server\n", "bad.toml:1:"},  // TOML syntax: source:line:column
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.toml);
    auto got = ParseConfig(c.toml, "bad.toml");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.message));
  }
}

TEST(ConfigTest, OverrideReplacesKeysAndTheWholeNodeList) {
  const std::string dir = ::testing::TempDir();
  const std::string base = dir + "/base.toml", extra = dir + "/extra.toml";
  std::ofstream(base) << "[server]\nlog_level = \"warning\"\ndata_dir = \"d\"\n"
                         "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n";
  std::ofstream(extra) << "[server]\nlog_level = \"error\"\n[[nodes]]\nname = \"z\"\n";
  auto c = LoadConfig(base, extra);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.log_level, "error");
  EXPECT_EQ(c->server.data_dir, "d");
  ASSERT_EQ(c->nodes.size(), 1u);
  EXPECT_EQ(c->nodes[0].name, "z");
  // A bad override is as fatal as a bad base file, and names the override's key.
  std::ofstream(extra) << "[server]\nlog_lvl = 1\n";
  auto bad = LoadConfig(base, extra);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("server.log_lvl"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto c = LoadConfig("/nonexistent/haid.toml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("/nonexistent/haid.toml"));
}

}  // namespace
}  // namespace hai
