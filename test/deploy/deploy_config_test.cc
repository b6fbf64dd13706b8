// The configs we ship parse with the real loader, and say what their deployment needs.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>

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
  // Plaintext off loopback by explicit opt-in (ports published on the host's loopback).
  EXPECT_TRUE(c->tls.allow_plaintext);
  EXPECT_TRUE(CheckTransport(*c).ok()) << CheckTransport(*c);
  // Two replicas (docker-compose.yml): ranks reach either one's task-control endpoints.
  EXPECT_EQ(c->server.control_url, "http://haid:7612,http://haid-standby:7612");
}

// deploy/k8s: the ConfigMap's haid.toml plus the Secret's override.toml is a valid config for
// the Kubernetes runtime, in-cluster, with the names the other manifests use.
TEST(DeployConfig, KubernetesConfigMapAndSecretMakeAClusterConfig) {
  const YAML::Node config_map = YAML::LoadFile(kSource + "/deploy/k8s/20-config.yaml");
  const YAML::Node secret = YAML::LoadFile(kSource + "/deploy/k8s/21-secret.yaml");
  const std::string base = ::testing::TempDir() + "/k8s-haid.toml";
  const std::string over = ::testing::TempDir() + "/k8s-override.toml";
  std::ofstream(base) << config_map["data"]["haid.toml"].as<std::string>();
  std::ofstream(over) << secret["stringData"]["override.toml"].as<std::string>();
  auto c = LoadConfig(base, over);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->manager.runtime, "kubernetes");
  EXPECT_EQ(c->kubernetes.kubeconfig, "");  // in-cluster service account
  EXPECT_EQ(c->kubernetes.namespace_, "hai-tasks");  // the namespace 10-rbac.yaml grants
  EXPECT_EQ(c->database.url, "postgresql://hai:change-me@hai-postgres.hai.svc:5432/hai");
  EXPECT_EQ(c->redis.host, "hai-redis.hai.svc");
  EXPECT_EQ(c->server.http_listen, "0.0.0.0:7612");  // the probes' port
  // TLS from the Secret 30-haid.yaml mounts; task pods are told https://.
  EXPECT_TRUE(c->tls.enabled());
  EXPECT_FALSE(c->tls.allow_plaintext);
  EXPECT_EQ(c->tls.cert_file, "/etc/hai/tls/tls.crt");
  EXPECT_TRUE(CheckTransport(*c).ok()) << CheckTransport(*c);
  EXPECT_EQ(c->server.control_url.rfind("https://", 0), 0u) << c->server.control_url;
  EXPECT_EQ(c->redis.password, secret["stringData"]["redis-password"].as<std::string>());
  EXPECT_TRUE(c->nodes.empty());  // nodes come from `hosts` rows, named as in Kubernetes
}

}  // namespace
}  // namespace hai
