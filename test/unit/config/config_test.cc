// Config parsing: defaults, every section, and a typed error naming the key for each kind of
// mistake an operator makes. A malformed config must stop haid before it touches anything.
#include "common/config.h"

#include <fstream>
#include <sstream>

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
[jupyter]
default_group = "dev"
default_cpu = 0.5
default_memory_gib = 2
idle_timeout_s = 0
gpu_sharing_groups = ["dev", "shared"]
max_containers_per_gpu = 2
notebook_binary = "/usr/bin/jupyter-notebook"
[jupyter.idle_timeout_s_by_role]
external = 600
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
  EXPECT_EQ(c->jupyter.default_group, "dev");
  EXPECT_EQ(c->jupyter.default_cpu_millis, 500);
  EXPECT_EQ(c->jupyter.default_memory_mib, 2048);
  EXPECT_EQ(c->jupyter.idle_timeout, absl::ZeroDuration());
  EXPECT_EQ(c->jupyter.idle_timeout_by_role.at("external"), absl::Minutes(10));
  EXPECT_EQ(c->jupyter.gpu_sharing_groups, (std::vector<std::string>{"dev", "shared"}));
  EXPECT_EQ(c->jupyter.max_containers_per_gpu, 2);
  EXPECT_EQ(c->jupyter.notebook_binary, "/usr/bin/jupyter-notebook");
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
      {"[scheduler]\ntick_ms = -5\n",
       "config key scheduler.tick_ms: must be a positive integer (got -5)"},
      {"[scheduler]\ntick_ms = \"fast\"\n", "scheduler.tick_ms: must be a positive integer"},
      {"[scheduler]\ntick_ms = 0.5\n", "scheduler.tick_ms: must be a positive integer"},
      {"[scheduler]\ntick_ms = 0\n", "scheduler.tick_ms: must be a positive integer (got 0)"},
      {"[manager]\nheartbeat_ms = 1e12\n", "manager.heartbeat_ms"},
      {"[scheduler]\nmanager_timeout_s = 0\n",
       "scheduler.manager_timeout_s: must be a positive number of seconds"},
      {"[scheduler]\nkill_grace_s = -1\n",
       "scheduler.kill_grace_s: must be a non-negative number of seconds (got -1)"},
      {"[scheduler]\nsuspend_grace_s = nan\n", "scheduler.suspend_grace_s"},
      {"[scheduler]\nmin_runtime_s = 1e10\n", "scheduler.min_runtime_s: must be at most"},
      {"[scheduler]\ntick_msec = 5\n", "config key scheduler.tick_msec: unknown key"},
      {"[schedular]\n", "config key schedular: unknown section or key"},
      {"[server]\nlog_level = \"loud\"\n", "server.log_level: must be one of"},
      {"[server]\ngrpc_listen = \"nohost\"\n", "server.grpc_listen: must be host:port"},
      {"[server]\nhttp_listen = \"h:99999\"\n", "server.http_listen"},
      {"[database]\npool_size = 0\n", "database.pool_size: must be an integer between 1"},
      {"[redis]\nport = 70000\n", "redis.port"},
      {"[manager]\nruntime = \"docker\"\n", "manager.runtime: must be one of kubernetes, local"},
      {"[kubernetes]\nnamespace = \"Hai_Tasks\"\n", "kubernetes.namespace: must be a DNS label"},
      {"[kubernetes]\nimage_pull_policy = \"Sometimes\"\n",
       "kubernetes.image_pull_policy: must be one of Always, IfNotPresent, Never"},
      {"[kubernetes]\nimage_pull_timeout_s = 0\n",
       "kubernetes.image_pull_timeout_s: must be a positive number of seconds"},
      {"[kubernetes]\nmax_retries = -1\n", "kubernetes.max_retries: must be an integer between"},
      {"[kubernetes]\ngpu_resource = \"\"\n", "kubernetes.gpu_resource: must not be empty"},
      {"[manager]\nruntime = \"lsf\"\n",
       "manager.runtime: must be one of kubernetes, local, slurm"},
      {"[slurm]\njob_name_prefix = \"a,b\"\n", "slurm.job_name_prefix: must be 1-32 of"},
      {"[slurm]\ncommand_timeout_ms = 0\n", "slurm.command_timeout_ms"},
      {"[slurm]\nsbatch = 1\n", "slurm.sbatch"},
      {"[kubernetes]\ngpu_resource = \"gpu\"\n",
       "kubernetes.gpu_resource: must be an extended resource name like nvidia.com/gpu"},
      {"[kubernetes]\nrdma_resource = \"rdma/hca x\"\n", "kubernetes.rdma_resource: must be"},
      {"[kubernetes]\nbogus = 1\n", "kubernetes.bogus: unknown key"},
      {"[kubernetes]\njupyter_port = 0\n", "kubernetes.jupyter_port"},
      {"[kubernetes]\njupyter_workspace_host_path = \"ws\"\n",
       "kubernetes.jupyter_workspace_host_path: must be an absolute path"},
      {"[scheduler]\ndefault_priority = \"URGENT\"\n", "scheduler.default_priority"},
      {"[jupyter]\ndefault_cpu = 0\n", "jupyter.default_cpu: must be a number between"},
      {"[jupyter]\ndefault_memory_gib = 0\n", "jupyter.default_memory_gib"},
      {"[jupyter]\nidle_timeout_s = -1\n", "jupyter.idle_timeout_s: must be a non-negative"},
      {"[jupyter]\ngpu_sharing_groups = \"dev\"\n",
       "jupyter.gpu_sharing_groups: must be an array of strings"},
      {"[jupyter]\ngpu_sharing_groups = [\"\"]\n",
       "jupyter.gpu_sharing_groups: must be an array of non-empty strings"},
      {"[jupyter]\nmax_containers_per_gpu = 0\n", "jupyter.max_containers_per_gpu"},
      {"[jupyter.idle_timeout_s_by_role]\nguest = 5\n",
       "jupyter.idle_timeout_s_by_role.guest: unknown key"},
      {"[jupyter]\nnotebook_binary = \"\"\n", "jupyter.notebook_binary: must not be empty"},
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

// The gRPC API's bounds: read, range-checked, and the follow cap kept below the thread cap.
TEST(ConfigTest, GrpcBoundsAreReadAndChecked) {
  auto c = ParseConfig(
      "[grpc]\nmax_threads = 64\nkeepalive_time_s = 5\nkeepalive_timeout_s = 2\n"
      "log_chunk_kib = 64\nmax_follows_per_user = 2\nmax_follows = 10\n"
      "unknown_token_cache_ms = 0\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->grpc.max_threads, 64);
  EXPECT_EQ(c->grpc.keepalive_time, absl::Seconds(5));
  EXPECT_EQ(c->grpc.keepalive_timeout, absl::Seconds(2));
  EXPECT_EQ(c->grpc.log_chunk_kib, 64);
  EXPECT_EQ(c->grpc.max_follows_per_user, 2);
  EXPECT_EQ(c->grpc.max_follows, 10);
  EXPECT_EQ(c->grpc.unknown_token_ttl, absl::ZeroDuration());
  for (const char* bad : {"[grpc]\nlog_chunk_kib = 4096\n", "[grpc]\nmax_follows_per_user = 0\n",
                          "[grpc]\nmax_threads = 100\n", "[grpc]\nkeepalive_time_s = 0\n"}) {
    auto r = ParseConfig(bad, "t");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("config key grpc.")) << bad;
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

// config/haid.toml is the documentation of every key: it must list each key the loader knows
// and give each the value the loader uses when the key is absent.
TEST(ConfigTest, ShippedDefaultListsEveryKeyWithItsDefault) {
  const std::string path = std::string(HAI_SOURCE_DIR) + "/config/haid.toml";
  auto shipped = LoadConfig(path);
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  const Config d;  // the struct defaults, which an empty file yields
  EXPECT_EQ(shipped->server.grpc_listen, d.server.grpc_listen);
  EXPECT_EQ(shipped->server.http_listen, d.server.http_listen);
  EXPECT_EQ(shipped->server.control_url, d.server.control_url);
  EXPECT_EQ(shipped->server.data_dir, d.server.data_dir);
  EXPECT_EQ(shipped->server.log_level, d.server.log_level);
  EXPECT_EQ(shipped->grpc.max_threads, d.grpc.max_threads);
  EXPECT_EQ(shipped->grpc.keepalive_time, d.grpc.keepalive_time);
  EXPECT_EQ(shipped->grpc.keepalive_timeout, d.grpc.keepalive_timeout);
  EXPECT_EQ(shipped->grpc.log_chunk_kib, d.grpc.log_chunk_kib);
  EXPECT_EQ(shipped->grpc.max_follows_per_user, d.grpc.max_follows_per_user);
  EXPECT_EQ(shipped->grpc.max_follows, d.grpc.max_follows);
  EXPECT_EQ(shipped->grpc.unknown_token_ttl, d.grpc.unknown_token_ttl);
  EXPECT_EQ(shipped->database.url, d.database.url);
  EXPECT_EQ(shipped->database.pool_size, d.database.pool_size);
  EXPECT_EQ(shipped->server.http_max_body_bytes, d.server.http_max_body_bytes);
  EXPECT_EQ(shipped->server.http_request_timeout, d.server.http_request_timeout);
  EXPECT_EQ(shipped->server.http_idle_timeout, d.server.http_idle_timeout);
  EXPECT_EQ(shipped->server.http_max_connections, d.server.http_max_connections);
  EXPECT_EQ(shipped->server.http_workers, d.server.http_workers);
  EXPECT_EQ(shipped->server.http_max_event_streams, d.server.http_max_event_streams);
  EXPECT_EQ(shipped->database.pool_wait_timeout, d.database.pool_wait_timeout);
  EXPECT_EQ(shipped->database.connect_timeout, d.database.connect_timeout);
  EXPECT_EQ(shipped->database.statement_timeout, d.database.statement_timeout);
  EXPECT_EQ(shipped->database.keepalives_idle, d.database.keepalives_idle);
  EXPECT_EQ(shipped->database.keepalives_interval, d.database.keepalives_interval);
  EXPECT_EQ(shipped->database.keepalives_count, d.database.keepalives_count);
  EXPECT_EQ(shipped->redis.host, d.redis.host);
  EXPECT_EQ(shipped->redis.port, d.redis.port);
  EXPECT_EQ(shipped->redis.prefix, d.redis.prefix);
  EXPECT_EQ(shipped->redis.password, d.redis.password);
  EXPECT_EQ(shipped->tls.cert_file, d.tls.cert_file);
  EXPECT_EQ(shipped->tls.key_file, d.tls.key_file);
  EXPECT_EQ(shipped->tls.allow_plaintext, d.tls.allow_plaintext);
  EXPECT_EQ(shipped->tls.ca_file, d.tls.ca_file);
  const SchedulerConfig& s = shipped->scheduler;
  EXPECT_EQ(s.tick, d.scheduler.tick);
  EXPECT_EQ(s.default_group, d.scheduler.default_group);
  EXPECT_EQ(s.default_priority, d.scheduler.default_priority);
  EXPECT_EQ(s.max_nodes_per_task, d.scheduler.max_nodes_per_task);
  EXPECT_EQ(s.max_open_tasks_per_user, d.scheduler.max_open_tasks_per_user);
  EXPECT_EQ(s.preemption, d.scheduler.preemption);
  EXPECT_EQ(s.suspend_over_quota, d.scheduler.suspend_over_quota);
  EXPECT_EQ(s.node_lost_ranks_unhealthy, d.scheduler.node_lost_ranks_unhealthy);
  EXPECT_EQ(s.above_normal_demote_after, d.scheduler.above_normal_demote_after);
  EXPECT_EQ(s.min_runtime, d.scheduler.min_runtime);
  // The per-tier table is an example; its entries must not change the behaviour.
  for (const auto& [tier, runtime] : s.min_runtime_by_tier) {
    EXPECT_EQ(runtime, d.scheduler.min_runtime) << tier;
  }
  EXPECT_EQ(s.suspend_grace, d.scheduler.suspend_grace);
  EXPECT_EQ(s.kill_grace, d.scheduler.kill_grace);
  EXPECT_EQ(s.manager_timeout, d.scheduler.manager_timeout);
  EXPECT_EQ(shipped->manager.binary, d.manager.binary);
  EXPECT_EQ(shipped->manager.runtime, d.manager.runtime);
  EXPECT_EQ(shipped->manager.heartbeat, d.manager.heartbeat);
  const KubernetesConfig& k = shipped->kubernetes;
  EXPECT_EQ(k.kubeconfig, d.kubernetes.kubeconfig);
  EXPECT_EQ(k.context, d.kubernetes.context);
  EXPECT_EQ(k.namespace_, d.kubernetes.namespace_);
  EXPECT_EQ(k.gpu_resource, d.kubernetes.gpu_resource);
  EXPECT_EQ(k.rdma_resource, d.kubernetes.rdma_resource);
  EXPECT_EQ(k.default_image, d.kubernetes.default_image);
  EXPECT_EQ(k.image_pull_policy, d.kubernetes.image_pull_policy);
  EXPECT_EQ(k.service_account, d.kubernetes.service_account);
  EXPECT_EQ(k.image_pull_timeout, d.kubernetes.image_pull_timeout);
  EXPECT_EQ(k.unschedulable_timeout, d.kubernetes.unschedulable_timeout);
  EXPECT_EQ(k.request_timeout, d.kubernetes.request_timeout);
  EXPECT_EQ(k.max_retries, d.kubernetes.max_retries);
  EXPECT_EQ(k.jupyter_image, d.kubernetes.jupyter_image);
  EXPECT_EQ(k.jupyter_port, d.kubernetes.jupyter_port);
  EXPECT_EQ(k.jupyter_workspace_pvc, d.kubernetes.jupyter_workspace_pvc);
  EXPECT_EQ(k.jupyter_workspace_host_path, d.kubernetes.jupyter_workspace_host_path);
  const SlurmConfig& sl = shipped->slurm;
  EXPECT_EQ(sl.bin_dir, d.slurm.bin_dir);
  EXPECT_EQ(sl.slurm_conf, d.slurm.slurm_conf);
  EXPECT_EQ(sl.partition, d.slurm.partition);
  EXPECT_EQ(sl.account, d.slurm.account);
  EXPECT_EQ(sl.qos, d.slurm.qos);
  EXPECT_EQ(sl.job_name_prefix, d.slurm.job_name_prefix);
  EXPECT_EQ(sl.extra_sbatch_args, d.slurm.extra_sbatch_args);
  EXPECT_EQ(sl.supervisor_binary, d.slurm.supervisor_binary);
  EXPECT_EQ(sl.command_timeout, d.slurm.command_timeout);
  EXPECT_EQ(sl.node_sync_interval, d.slurm.node_sync_interval);
  EXPECT_EQ(sl.import_group, d.slurm.import_group);
  const JupyterConfig& j = shipped->jupyter;
  EXPECT_EQ(j.default_group, d.jupyter.default_group);
  EXPECT_EQ(j.default_cpu_millis, d.jupyter.default_cpu_millis);
  EXPECT_EQ(j.default_memory_mib, d.jupyter.default_memory_mib);
  EXPECT_EQ(j.idle_timeout, d.jupyter.idle_timeout);
  EXPECT_EQ(j.idle_timeout, absl::Hours(2));
  // The per-role table is an example; its entries must not change the behaviour.
  for (const auto& [role, timeout] : j.idle_timeout_by_role) {
    EXPECT_EQ(timeout, d.jupyter.idle_timeout) << role;
  }
  EXPECT_EQ(j.gpu_sharing_groups, d.jupyter.gpu_sharing_groups);
  EXPECT_EQ(j.max_containers_per_gpu, d.jupyter.max_containers_per_gpu);
  EXPECT_EQ(j.notebook_binary, d.jupyter.notebook_binary);
  ASSERT_EQ(shipped->nodes.size(), 4u);
  for (const LocalNodeConfig& n : shipped->nodes) {
    EXPECT_EQ(n.group, "default") << n.name;
    EXPECT_EQ(n.gpus, 8) << n.name;
  }

  // Every key appears literally ("key = "), so an operator finds it by reading the file.
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  for (const char* key : {"grpc_listen",
                          "[grpc]",
                          "max_threads",
                          "keepalive_time_s",
                          "keepalive_timeout_s",
                          "log_chunk_kib",
                          "max_follows_per_user",
                          "max_follows",
                          "unknown_token_cache_ms",
                          "http_listen",
                          "control_url",
                          "data_dir",
                          "log_level",
                          "url",
                          "pool_size",
                          "manager_pool_size",
                          "http_max_body_bytes",
                          "http_request_timeout_ms",
                          "http_idle_timeout_s",
                          "http_max_connections",
                          "http_workers",
                          "http_max_event_streams",
                          "pool_wait_timeout_ms",
                          "connect_timeout_s",
                          "statement_timeout_ms",
                          "keepalives_idle_s",
                          "keepalives_interval_s",
                          "keepalives_count",
                          "host",
                          "port",
                          "prefix",
                          "password",
                          "password_file",
                          "[tls]",
                          "cert_file",
                          "key_file",
                          "allow_plaintext",
                          "ca_file",
                          "tick_ms",
                          "default_group",
                          "default_priority",
                          "max_nodes_per_task",
                          "max_open_tasks_per_user",
                          "preemption",
                          "suspend_over_quota",
                          "node_lost_ranks_unhealthy",
                          "above_normal_demote_after_s",
                          "min_runtime_s",
                          "[scheduler.min_runtime_s_by_tier]",
                          "suspend_grace_s",
                          "kill_grace_s",
                          "manager_timeout_s",
                          "binary",
                          "runtime",
                          "heartbeat_ms",
                          "store",
                          "haid_endpoints",
                          "rpc_timeout_ms",
                          "retry_s",
                          "heartbeat_batch_ms",
                          "[kubernetes]",
                          "kubeconfig",
                          "context",
                          "namespace",
                          "gpu_resource",
                          "rdma_resource",
                          "default_image",
                          "image_pull_policy",
                          "service_account",
                          "image_pull_timeout_s",
                          "unschedulable_timeout_s",
                          "request_timeout_ms",
                          "max_retries",
                          "jupyter_image",
                          "jupyter_port",
                          "jupyter_workspace_pvc",
                          "jupyter_workspace_host_path",
                          "[jupyter]",
                          "default_cpu",
                          "default_memory_gib",
                          "idle_timeout_s",
                          "[jupyter.idle_timeout_s_by_role]",
                          "gpu_sharing_groups",
                          "max_containers_per_gpu",
                          "notebook_binary",
                          "[[nodes]]",
                          "name",
                          "group",
                          "gpus",
                          "cpu_millis",
                          "memory_mib",
                          "room",
                          "switch",
                          "jupyter"}) {
    const std::string k(key);
    const std::string needle = k[0] == '[' ? k : "\n" + k + " = ";
    EXPECT_NE(text.str().find(needle), std::string::npos) << key;
  }
}

TEST(ConfigTest, ShippedOverrideExampleApplies) {
  const std::string dir = std::string(HAI_SOURCE_DIR) + "/config/";
  auto c = LoadConfig(dir + "haid.toml", dir + "override.example.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.log_level, "debug");
  EXPECT_EQ(c->nodes.size(), 2u);
}

TEST(ConfigTest, TlsSectionAndTransportRule) {
  auto c = ParseConfig(R"([server]
grpc_listen = "0.0.0.0:7611"
http_listen = "[::]:7612"
[tls]
cert_file = "/etc/hai/tls/tls.crt"
key_file = "/etc/hai/tls/tls.key"
ca_file = "/etc/hai/tls/ca.crt"
)",
                       "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->tls.enabled());
  EXPECT_EQ(c->tls.ca_file, "/etc/hai/tls/ca.crt");
  EXPECT_TRUE(CheckTransport(*c).ok());  // TLS: any address
  // Without TLS: off loopback is refused, naming the address and the way out.
  c->tls = TlsConfig{};
  absl::Status s = CheckTransport(*c);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("0.0.0.0:7611"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("allow_plaintext"));
  c->tls.allow_plaintext = true;
  EXPECT_TRUE(CheckTransport(*c).ok());
  // The defaults listen on loopback: plaintext is fine.
  EXPECT_TRUE(CheckTransport(Config{}).ok());
  // A certificate without its key (or the reverse) names the missing key.
  auto half = ParseConfig("[tls]\ncert_file = \"/x.crt\"\n", "t.toml");
  ASSERT_FALSE(half.ok());
  EXPECT_THAT(std::string(half.status().message()), HasSubstr("tls.key_file"));
  EXPECT_FALSE(ParseConfig("[tls]\nallow_plaintext = \"yes\"\n", "t.toml").ok());
  EXPECT_FALSE(ParseConfig("[tls]\ncertfile = \"/x\"\n", "t.toml").ok());
}

TEST(ConfigTest, LoopbackListenAddresses) {
  for (const char* yes : {"127.0.0.1:1", "127.8.9.10:1", "[::1]:1", "::1:1", "localhost:1"}) {
    EXPECT_TRUE(IsLoopbackListen(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:1", "[::]:1", "10.0.0.1:1", "haid.lab:1", ":1", "128.0.0.1:1",
                         "127.0.0.1.evil.com:1"}) {
    EXPECT_FALSE(IsLoopbackListen(no)) << no;
  }
}

TEST(ConfigTest, RedisPasswordInlineOrFromAFile) {
  auto c = ParseConfig("[redis]\npassword = \"pw\"\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "pw");
  const std::string file = ::testing::TempDir() + "/redis-password";
  std::ofstream(file) << "from-file\n";
  c = ParseConfig("[redis]\npassword_file = \"" + file + "\"\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "from-file");
  auto both =
      ParseConfig("[redis]\npassword = \"a\"\npassword_file = \"" + file + "\"\n", "t.toml");
  EXPECT_FALSE(both.ok());
  auto missing = ParseConfig("[redis]\npassword_file = \"/nonexistent/pw\"\n", "t.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("redis.password_file"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto c = LoadConfig("/nonexistent/haid.toml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("/nonexistent/haid.toml"));
}

}  // namespace
}  // namespace hai
