// The configs we ship parse with the real loader, and say what their deployment needs.
#include <gtest/gtest.h>

#include "common/config.h"

namespace hai {
namespace {

const std::string kSource = HAI_SOURCE_DIR;

TEST(DeployConfig, EmbeddedDefaultIsValidAndHasFourLocalNodes) {
  auto c = LoadConfig(kSource + "/config/haid.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->nodes.size(), 4u);
  EXPECT_EQ(c->database.url, "postgresql://hai@127.0.0.1:5433/hai");
  EXPECT_EQ(c->redis.port, 6380);
  EXPECT_EQ(c->manager.runtime, "local");
}

TEST(DeployConfig, OverrideExampleAppliesOnTop) {
  auto c = LoadConfig(kSource + "/config/haid.toml", kSource + "/config/override.example.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.log_level, "debug");
  ASSERT_EQ(c->nodes.size(), 2u);  // the override's node list replaces the base list
  EXPECT_EQ(c->nodes[0].group, "a100");
  EXPECT_EQ(c->scheduler.suspend_grace, absl::Seconds(60));
  EXPECT_EQ(c->server.grpc_listen, "127.0.0.1:7611");  // untouched keys keep the base value
}

TEST(DeployConfig, ComposeConfigPointsAtComposeServices) {
  auto c = LoadConfig(kSource + "/deploy/compose/haid.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->database.url, "postgresql://hai@postgres:5432/hai");
  EXPECT_EQ(c->redis.host, "redis");
  EXPECT_EQ(c->server.grpc_listen, "0.0.0.0:7611");
}

}  // namespace
}  // namespace hai
