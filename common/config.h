// Typed configuration of haid and hai-manager, loaded once from config/haid.toml (plus an
// optional override file) and validated at start. Unknown keys are rejected and every error
// names the offending key, so a malformed config stops haid before it touches anything.
// Every field is documented, with its default, in config/haid.toml.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hai {

struct ServerConfig {
  std::string grpc_listen = "127.0.0.1:7611";  // host:port of the gRPC API
  std::string http_listen = "127.0.0.1:7612";  // host:port of metrics/health/task control
  std::string control_url;                     // URL pods use for task control; "" = http://<http_listen>
  std::string data_dir = "var";                // logs and runtime state; relative to the cwd
  std::string log_level = "info";              // debug|info|warning|error
  // Bounds of the HTTP side port (scheduler/http): a request body larger than this is refused
  // with 413 before it is read or authenticated; a request's head and body must arrive within
  // http_request_timeout of its first byte; an idle keep-alive connection is closed after
  // http_idle_timeout; past http_max_connections the longest-waiting unfinished request is
  // dropped; task control runs on http_workers threads (probes on their own thread).
  int64_t http_max_body_bytes = 64 * 1024;
  absl::Duration http_request_timeout = absl::Seconds(5);
  absl::Duration http_idle_timeout = absl::Seconds(60);
  int http_max_connections = 1024;
  int http_workers = 8;
  // Live dashboard pages (server-sent events, scheduler/http/event_hub.h) open at once; past
  // it a page's stream is refused with 503 RESOURCE_EXHAUSTED.
  int http_max_event_streams = 64;
};

// Bounds of the gRPC API ([grpc]): handler threads, keepalive, log streaming and the
// authentication cache. Each has a typed error past it (RESOURCE_EXHAUSTED).
struct GrpcConfig {
  int max_threads = 512;                              // handler threads; then RESOURCE_EXHAUSTED
  absl::Duration keepalive_time = absl::Seconds(60);  // server pings an idle connection this often
  absl::Duration keepalive_timeout = absl::Seconds(20);  // unanswered ping: connection closed
  int log_chunk_kib = 1024;       // log text per StreamLogs message (read in pieces this size)
  int max_follows_per_user = 16;  // concurrent `logs -f` streams of one user
  int max_follows = 256;          // concurrent `logs -f` streams of everyone
  absl::Duration unknown_token_ttl = absl::Seconds(5);  // unknown tokens remembered; 0 = off
};

struct DatabaseConfig {
  std::string url = "postgresql://hai@127.0.0.1:5433/hai";  // libpq connection URI
  int pool_size = 4;                                        // connections used by haid
  // Connections of the manager API (managers' claims, writes and batched heartbeats), apart
  // from pool_size so thousands of managers cannot starve the API and the loop. haid's total
  // is pool_size + manager_pool_size + 1 (LISTEN), whatever the number of running tasks.
  int manager_pool_size = 4;
  // A call waiting longer than this for a free pool connection fails with Unavailable.
  absl::Duration pool_wait_timeout = absl::Seconds(5);
  // libpq options of haid's and the managers' runtime connections (not of `haid migrate`):
  // connect_timeout, the server-side statement_timeout (0 = none) and TCP keepalives.
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration statement_timeout = absl::Seconds(30);
  absl::Duration keepalives_idle = absl::Seconds(30);
  absl::Duration keepalives_interval = absl::Seconds(10);
  int keepalives_count = 3;
};

struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6380;
  std::string prefix = "hai";  // prefix of every channel and key
  // AUTH after connecting when non-empty (redis-server `requirepass`); a wrong one is an
  // Unauthenticated error. `password_file` (its first line) is read at load time instead,
  // for a mounted Secret; naming both is an error.
  std::string password;
  std::string password_file;
};

// TLS of haid's two listeners, gRPC (server.grpc_listen) and the HTTP side port
// (server.http_listen) ([tls]). With cert_file and key_file (PEM) both serve TLS only; without,
// both are plaintext, which haid accepts only on loopback addresses unless allow_plaintext is
// set (tokens, admin ones included, would cross the network in clear). Read once at start.
struct TlsConfig {
  std::string cert_file;         // server certificate chain, PEM; "" = plaintext
  std::string key_file;          // its private key, PEM
  bool allow_plaintext = false;  // plaintext on a non-loopback listen address: opt-in
  // The CA (PEM) that signed cert_file, handed to ranks as HAI_CA_FILE so in-task code (the
  // Python SDK) verifies the side port with it; "" = they use the system store. A path on
  // the task's machine: readable by every user (a CA certificate is public).
  std::string ca_file;
  bool enabled() const { return !cert_file.empty(); }
};

struct SchedulerConfig {
  absl::Duration tick = absl::Seconds(1);       // periodic scheduling pass (tick_ms)
  std::string default_group = "default";        // group when a submit names none
  std::string default_priority = "NORMAL";      // tier when a submit names none
  int max_nodes_per_task = 1024;                // larger requests are rejected at submit
  int max_open_tasks_per_user = 10000;          // unfinished tasks per user; 0 = no cap
  bool preemption = true;                       // suspend lower tiers for higher ones
  bool suspend_over_quota = false;              // lowered quota: suspend the youngest over it
  int node_lost_ranks_unhealthy = 3;            // lost ranks (10 min) that make a node unhealthy; 0 = off
  int metrics_top_users = 20;                   // users labelled on /metrics; the rest are "other"
  // Requeues per chain for ranks that ended themselves (a SIGKILL hai did not send: their own
  // process group, their own OOM); the next such end fails the chain. 0 = fail at once.
  int max_self_requeues = 3;
  absl::Duration above_normal_demote_after = absl::Minutes(30);
  absl::Duration min_runtime = absl::ZeroDuration();  // victims younger than this are protected
  // Per victim tier (tier name -> minimum runtime), overriding min_runtime for that tier;
  // from the [scheduler.min_runtime_s_by_tier] table, e.g. LOW = 0, NORMAL = 600.
  std::map<std::string, absl::Duration> min_runtime_by_tier;
  absl::Duration suspend_grace = absl::Seconds(30);   // notice -> SIGTERM if no go_suspend()
  absl::Duration kill_grace = absl::Seconds(10);      // SIGTERM -> SIGKILL
  absl::Duration manager_timeout = absl::Seconds(15); // heartbeat age after which a manager is lost
  // Leader election (scheduler/election/): a leader that cannot renew its lease for this long
  // is replaced by a standby (a crashed one at once: its session's advisory lock goes away).
  absl::Duration leader_lease = absl::Seconds(3);
  // How long a standby's blocking advisory-lock request waits before it looks at the lease
  // row again (a released lock is granted at once; this bounds noticing a hung leader).
  absl::Duration leader_poll = absl::Milliseconds(200);
};

struct ManagerConfig {
  std::string binary;                           // hai-manager path; "" = next to haid
  std::string runtime = "local";                // local|kubernetes|slurm
  absl::Duration heartbeat = absl::Seconds(2);  // manager heartbeat and DB poll interval
  // How the manager reaches its attempt's rows: "haid" (the manager API on haid's gRPC port;
  // no Postgres connection per manager) or "postgres" (its own connection, as before).
  std::string store = "haid";
  // haid replicas a manager calls, in order ("host:port"); empty = server.grpc_listen (a
  // wildcard host becomes loopback).
  std::vector<std::string> haid_endpoints;
  absl::Duration rpc_timeout = absl::Seconds(10);  // one manager API call
  absl::Duration retry = absl::Minutes(5);         // a call keeps retrying a missing haid this long
  // haid: heartbeats of all managers are written together, one statement per this interval.
  absl::Duration heartbeat_batch = absl::Milliseconds(100);
};

// The Kubernetes runtime (manager.runtime = "kubernetes"); see docs/deploy.md.
struct KubernetesConfig {
  std::string kubeconfig;   // kubeconfig path; "" = the in-cluster service account
  std::string context;      // kubeconfig context; "" = its current-context
  std::string namespace_ = "hai-tasks";       // namespace of task pods and services ("namespace")
  std::string gpu_resource = "nvidia.com/gpu";  // extended resource a rank's GPUs are requested as
  std::string rdma_resource;                  // e.g. "rdma/hca": one per pod; "" = off
  std::string default_image;                  // image when neither chain nor environment names one
  std::string image_pull_policy = "IfNotPresent";  // Always|IfNotPresent|Never
  std::string service_account;                // pods' service account; "" = none mounted
  bool read_only_root_filesystem = false;     // task containers' / read-only (+ a /tmp emptyDir)
  absl::Duration image_pull_timeout = absl::Minutes(5);      // image errors this long fail a rank
  absl::Duration unschedulable_timeout = absl::Minutes(3);   // Unschedulable this long: rank lost
  absl::Duration request_timeout = absl::Seconds(10);        // one API request (not watches)
  int max_retries = 5;  // retries of a request on 429/5xx/transport errors, with backoff
  // Jupyter dev containers (docs/jupyter.md): the image when the container names none ("" =
  // default_image), the port the server listens on in its Pod, and the workspace volume: a
  // PersistentVolumeClaim (subPath <user>) when jupyter_workspace_pvc is set, else a hostPath
  // <jupyter_workspace_host_path>/<user> (DirectoryOrCreate) on the node.
  std::string jupyter_image;
  int jupyter_port = 8888;
  std::string jupyter_workspace_pvc;
  std::string jupyter_workspace_host_path = "/var/lib/hai/workspaces";
};

// The Slurm runtime (manager.runtime = "slurm"); see docs/slurm.md. hai's nodes are Slurm's
// nodes by name; each rank is one batch job pinned to its node.
struct SlurmConfig {
  std::string bin_dir;     // where sbatch, squeue, sinfo, scancel, scontrol are; "" = PATH
  std::string slurm_conf;  // SLURM_CONF for those commands; "" = Slurm's default
  std::string partition;   // sbatch --partition; "" = the cluster's default partition
  std::string account;     // sbatch --account; "" = the submitting user's default account
  std::string qos;         // sbatch --qos; "" = default
  std::string job_name_prefix = "hai";         // jobs are named <prefix>-<attempt>-<rank>
  std::vector<std::string> extra_sbatch_args;  // appended to every sbatch (site options)
  // hai-manager on the nodes (the job runs it as the rank supervisor); "" = this manager's own
  // path, which then must exist on every node (a shared install).
  std::string supervisor_binary;
  absl::Duration command_timeout = absl::Seconds(20);  // one Slurm command
  // haid follows Slurm's nodes this often (DOWN/DRAIN -> unhealthy/cordoned); 0 = never.
  absl::Duration node_sync_interval = absl::Seconds(5);
  // Slurm nodes hai has no host for are added to this node group; "" = no import (hosts come
  // from [[nodes]] or SQL, named like Slurm's nodes).
  std::string import_group;
};

// Jupyter dev containers (docs/jupyter.md): defaults of `hai-cli jupyter create`, idle
// culling and GPU sharing. Node groups are marked as jupyter groups per node (hosts.jupyter).
struct JupyterConfig {
  std::string default_group = "jupyter";   // group when a create names none
  int64_t default_cpu_millis = 1000;       // default_cpu (cores) of a create that names none
  int64_t default_memory_mib = 4096;       // default_memory_gib likewise
  // A container with no kernel/terminal activity and no API request this long is stopped
  // (culled); 0 = never. Per role (admin|internal|external) from
  // [jupyter.idle_timeout_s_by_role], overriding idle_timeout for that role.
  absl::Duration idle_timeout = absl::Hours(2);
  std::map<std::string, absl::Duration> idle_timeout_by_role;
  // Groups whose GPUs may be shared among containers; elsewhere a GPU is dedicated.
  std::vector<std::string> gpu_sharing_groups;
  int max_containers_per_gpu = 4;          // in a sharing group: containers per GPU at most
  std::string notebook_binary = "jupyter-notebook";  // looked up in PATH
};

// A node of the local runtime (declared in config, registered in `hosts` at start).
struct LocalNodeConfig {
  std::string name;
  std::string group = "default";
  int gpus = 0;
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  std::string room;
  std::string sw;  // "switch" key
  bool jupyter = false;
};

struct Config {
  ServerConfig server;
  GrpcConfig grpc;
  DatabaseConfig database;
  RedisConfig redis;
  TlsConfig tls;
  SchedulerConfig scheduler;
  ManagerConfig manager;
  KubernetesConfig kubernetes;
  SlurmConfig slurm;
  JupyterConfig jupyter;
  std::vector<LocalNodeConfig> nodes;  // [[nodes]] tables
};

// Whether `listen` (host:port, host possibly [bracketed]) binds only a loopback address:
// 127.0.0.0/8, ::1 or localhost. "0.0.0.0", "[::]" and names are not.
bool IsLoopbackListen(const std::string& listen);

// haid's transport rule: without [tls] certificates, every listen address must be loopback
// unless tls.allow_plaintext is set; FailedPrecondition naming the address otherwise.
absl::Status CheckTransport(const Config& config);

// The unix socket haid serves its gRPC API on for local managers when TLS is on
// (<data_dir>/haid-<host>.sock, absolute): managers spawned beside haid need no certificate
// names.
std::string ManagerSocketPath(const Config& config);

// Parses TOML text. Errors are InvalidArgument and name the key, e.g.
// "config key scheduler.tick_ms: must be a positive integer (got -5)".
absl::StatusOr<Config> ParseConfig(const std::string& toml_text, const std::string& source_name);

// Loads `path`, then applies `override_path` on top when non-empty (keys present in the
// override replace the base; [[nodes]] in the override replaces the whole node list).
absl::StatusOr<Config> LoadConfig(const std::string& path, const std::string& override_path = "");

}  // namespace hai
