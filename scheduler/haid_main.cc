// haid: the hai daemon. `haid [--config F] [--config-override F]` runs it; `haid migrate`
// applies pending schema migrations and exits.
//
// Threads (named in one place, here): main (start-up, then waits for SIGTERM/SIGINT),
// hai-scheduler (the loop: the only thread that decides, and only while this replica leads),
// hai-elector (leader election on a Postgres connection of its own), hai-pg-listen (LISTEN/NOTIFY
// -> wake-ups), hai-http (the side port's event thread; answers /healthz) with hai-http-probe
// (/readyz, /metrics) and hai-http-task (task control, server.http_workers), hai-slurm-sync
// (runtime slurm: hosts follow Slurm's nodes), and gRPC's threads (handlers: persist, wake the
// loop, reply). Signals are blocked in every thread and taken
// by main with sigwait.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "common/db_url.h"
#include "common/log.h"
#include "common/migrate.h"
#include "common/pg.h"
#include "common/proc.h"
#include "scheduler/api/auth.h"
#include "scheduler/api/jupyter_service.h"
#include "scheduler/api/services.h"
#include "scheduler/api/usage_service.h"
#include "scheduler/election/leader_elector.h"
#include "scheduler/events/pg_listener.h"
#include "scheduler/events/redis_notifier.h"
#include "scheduler/http/http_server.h"
#include "scheduler/launcher/launcher.h"
#include "scheduler/loop/jupyter_pass.h"
#include "scheduler/loop/scheduler.h"
#include "scheduler/managerapi/manager_api.h"
#include "scheduler/metrics.h"
#include "scheduler/slurm/node_sync.h"
#include "scheduler/store/store.h"

namespace {

namespace fs = std::filesystem;

// The Slurm node sync's view of the hosts table.
class StoreNodeSync : public hai::slurm::NodeSyncStore {
 public:
  explicit StoreNodeSync(hai::store::Store& store) : store_(store) {}
  absl::StatusOr<std::vector<hai::slurm::HostView>> Hosts() override {
    auto rows = store_.LoadHosts();
    if (!rows.ok()) return rows.status();
    std::vector<hai::slurm::HostView> out;
    for (const auto& r : *rows) out.push_back({r.node.name, r.node.state, r.state_reason});
    return out;
  }
  absl::Status SetState(const hai::slurm::NodeChange& c) override {
    return store_.SetNodeState(c.node, c.state, c.reason).status();
  }
  absl::Status Import(const hai::policy::Node& node) override { return store_.AddNode(node); }

 private:
  hai::store::Store& store_;
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "haid: %s\n", what.c_str());
  return 1;
}

int RunMigrate(const hai::Config& config) {
  auto conn = hai::pg::Connect(config.database.url);
  if (!conn.ok()) return Fail(conn.status().ToString());
  auto result = hai::Migrate(**conn, hai::EmbeddedMigrations());
  if (!result.ok()) return Fail(result.status().ToString());
  std::printf("haid migrate: applied %d migration(s); schema version %d\n", result->applied,
              result->current_version);
  return 0;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read TLS ", what, " ", path));
  }
  return text.str();
}

// [tls] -> the gRPC listener's credentials: TLS with the configured certificate, else
// plaintext (CheckTransport has already refused plaintext off loopback unless allowed).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const hai::TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  auto cert = ReadPem(tls.cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key_file, "key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

std::string ManagerBinary(const hai::Config& config) {
  if (!config.manager.binary.empty()) return fs::absolute(config.manager.binary).string();
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "hai-manager").string();
}

int RunDaemon(const hai::Config& config, const std::string& config_path,
              const std::string& override_path) {
  // Block signals before any thread starts, so only main's sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Runtime connections carry connect/statement timeouts and TCP keepalives (migrate does not).
  const std::string db_url = hai::RuntimeDatabaseUrl(config.database);
  auto pool = hai::store::ConnectionPool::Open(db_url, config.database.pool_size,
                                               config.database.pool_wait_timeout);
  if (!pool.ok()) return Fail(pool.status().ToString());
  {
    auto conn = hai::pg::Connect(db_url);
    if (!conn.ok()) return Fail(conn.status().ToString());
    auto version = hai::SchemaVersion(**conn);
    if (!version.ok()) return Fail(version.status().ToString());
    if (*version < hai::EmbeddedMigrations().back().version) {
      return Fail("database schema is not up to date: run `haid migrate` first");
    }
  }
  hai::store::Store store(*std::move(pool));
  // Slurm: [[nodes]] name Slurm's nodes (or slurm.import_group imports them).
  if (config.manager.runtime == "local" || config.manager.runtime == "slurm") {
    absl::Status s = store.UpsertConfigNodes(config.nodes);
    if (!s.ok()) return Fail(s.ToString());
    // The config holds the database URL: a task must not read it (docs/security.md).
    struct stat config_stat {};
    if (::geteuid() == 0 && ::stat(config_path.c_str(), &config_stat) == 0 &&
        (config_stat.st_mode & 0077) != 0) {
      HAI_LOG(WARNING) << config_path << " is readable by others (mode " << std::oct
                       << (config_stat.st_mode & 0777) << std::dec
                       << "): tasks could read the database URL; chmod 0600 it";
    }
    if (::geteuid() != 0) {
      HAI_LOG(WARNING) << "haid is not root (uid " << ::geteuid() << "): local tasks run as uid "
                       << ::geteuid() << ", not as their users, and can reach each other "
                       << "(docs/security.md)";
    }
  }

  const fs::path data_dir = fs::absolute(config.server.data_dir);
  std::error_code ec;
  fs::create_directories(data_dir / "logs", ec);
  fs::create_directories(data_dir / "managers", ec);
  if (ec) return Fail("cannot create data_dir " + data_dir.string() + ": " + ec.message());
  const std::string manager = ManagerBinary(config);
  if (access(manager.c_str(), X_OK) != 0) {
    return Fail("hai-manager not found or not executable at " + manager + " (set manager.binary)");
  }

  // Managers read and write their attempts through haid (docs/architecture.md).
  auto manager_api = hai::managerapi::ManagerApi::Open(config, db_url);
  if (!manager_api.ok()) return Fail(manager_api.status().ToString());
  hai::Metrics metrics;
  hai::RedisNotifier notifier(config.redis.host, config.redis.port, config.redis.prefix,
                              config.redis.password);
  hai::Launcher launcher(
      {manager, fs::absolute(config_path).string(),
       override_path.empty() ? "" : fs::absolute(override_path).string(),
       (data_dir / "managers").string(),
       config.manager.store == "haid" ? (*manager_api)->credentials() : nullptr});
  hai::Scheduler scheduler(store, config, launcher, notifier, metrics);
  // Every replica runs the election; the loop acts only while this one leads (docs/deploy.md).
  hai::LeaderElector elector({.url = db_url,
                              .name = hai::proc::HostName() + ":" + std::to_string(::getpid()),
                              .lease = config.scheduler.leader_lease,
                              .poll = config.scheduler.leader_poll},
                             [&](int64_t epoch) {
                               const bool leading = epoch != 0;
                               if ((metrics.leader.exchange(leading ? 1 : 0) != 0) != leading) {
                                 ++metrics.leader_transitions;
                               }
                               metrics.leader_epoch = leading ? epoch : elector.SeenEpoch();
                               scheduler.Wake();
                             });
  scheduler.SetLeadership(&elector);
  if (const char* pause = std::getenv("HAI_TEST_PAUSE_BEFORE_APPLY_MS"); pause != nullptr) {
    scheduler.SetPauseBeforeApply(absl::Milliseconds(std::atoi(pause)));
  }
  hai::JupyterPass jupyter_pass(store, config, launcher, notifier);
  scheduler.SetJupyterStep(&jupyter_pass);
  // Live dashboard pages hear of every change from the same notifications as the loop.
  hai::EventHub events(config.server.http_max_event_streams,
                       [&scheduler] { return scheduler.views().LastPassAt(); });
  hai::PgListener listener(db_url, [&](const std::string& channel, const std::string& payload) {
    // users, groups or memberships may have changed (or the
    // listener reconnected): authenticate from the table again.
    if (channel == "hai_admin") hai::api::InvalidateAuthCache();
    scheduler.NoteChange(channel, payload);
    events.Note(channel);
  });

  hai::api::ServiceDeps deps{&store,   &scheduler, &scheduler.views(),          &notifier,
                             &metrics, &config,    (data_dir / "logs").string()};
  hai::api::TaskServiceImpl tasks(deps);
  hai::api::ClusterServiceImpl cluster(deps);
  hai::api::UserServiceImpl users(deps);
  hai::api::AdminServiceImpl admin(deps);
  hai::api::JupyterServiceImpl jupyter(deps, &jupyter_pass);
  hai::api::UsageServiceImpl usage(deps);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  auto grpc_credentials = GrpcServerCredentials(config.tls);
  if (!grpc_credentials.ok()) return Fail(grpc_credentials.status().ToString());
  builder.AddListeningPort(config.server.grpc_listen, *grpc_credentials, &bound_port);
  // With TLS, local managers reach haid on a unix socket only root (haid's user) may open:
  // no certificate names to match for loopback, and nothing crosses a network.
  const std::string manager_socket = hai::ManagerSocketPath(config);
  if (config.tls.enabled()) {
    if (manager_socket.size() > 100) {
      return Fail("data_dir is too long for the managers' socket " + manager_socket +
                  " (at most 100 characters)");
    }
    fs::remove(manager_socket, ec);
    builder.AddListeningPort("unix:" + manager_socket, grpc::InsecureServerCredentials());
  }
  builder.RegisterService(&tasks);
  builder.RegisterService(&cluster);
  builder.RegisterService(&users);
  builder.RegisterService(&admin);
  builder.RegisterService(&jupyter);
  builder.RegisterService(&usage);
  builder.RegisterService(&(*manager_api)->service());
  // The sync server keeps at most MAX_POLLERS idle threads (default 2) and exits the rest;
  // a submit blocks its thread until its group commit is done, so each finished statement
  // freed a crowd of threads that then exited and were created again for the next calls
  // (strace under 32 clients: one clone3, mmap and munmap per three submits). Idle threads
  // are cheap; keep them.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 256);
  // Bounded handler threads: past grpc.max_threads a call is answered RESOURCE_EXHAUSTED
  // at once instead of costing another thread (each `logs -f` holds one until its task
  // ends; FollowLimiter keeps followers below this).
  grpc::ResourceQuota quota("haid-grpc");
  quota.SetMaxThreads(config.grpc.max_threads);
  builder.SetResourceQuota(quota);
  // Server keepalive: a ping every keepalive_time on every connection, idle or streaming
  // without data (no cap on pings without data), closed when one goes unanswered for
  // keepalive_timeout, so the follow of a client that vanished (half-open) is cancelled
  // instead of polling until its task ends. Clients may ping every 10 s.
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIME_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config.grpc.keepalive_time)));
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config.grpc.keepalive_timeout)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  hai::api::SetUnknownTokenTtl(config.grpc.unknown_token_ttl);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    return Fail("cannot listen for gRPC on " + config.server.grpc_listen);
  }
  // The socket's file takes the umask; only haid's user may connect (connect needs write).
  if (config.tls.enabled()) fs::permissions(manager_socket, fs::perms::owner_read | fs::perms::owner_write, ec);
  hai::http::ServerOptions http_options;
  http_options.max_body_bytes = static_cast<size_t>(config.server.http_max_body_bytes);
  http_options.request_timeout = config.server.http_request_timeout;
  http_options.idle_timeout = config.server.http_idle_timeout;
  http_options.max_connections = config.server.http_max_connections;
  // Each side-port connection is a descriptor: leave at least half of haid's (ulimit -n) to
  // gRPC, Postgres and log files, so slow HTTP clients cannot starve them of descriptors.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
                      static_cast<rlim_t>(http_options.max_connections) > files.rlim_cur / 2) {
    http_options.max_connections = static_cast<int>(std::max<rlim_t>(16, files.rlim_cur / 2));
    HAI_LOG(WARNING) << "server.http_max_connections lowered to " << http_options.max_connections
                     << ": half of the descriptor limit " << files.rlim_cur
                     << " (raise ulimit -n for more)";
  }
  http_options.workers = config.server.http_workers;
  http_options.tls_cert_file = config.tls.cert_file;
  http_options.tls_key_file = config.tls.key_file;
  hai::HttpServer http(store, scheduler.views(), notifier, metrics, config.scheduler.tick,
                       http_options);
  // The dashboard calls haid's own gRPC API as each signed-in user (dashboard.h), in-process.
  hai::DashboardOptions dashboard_options;
  dashboard_options.channel = server->InProcessChannel(grpc::ChannelArguments());
  dashboard_options.log_dir = (data_dir / "logs").string();
  dashboard_options.secure_cookie = config.tls.enabled();
  hai::Dashboard dashboard(std::move(dashboard_options), store, scheduler.views(), events);
  http.SetDashboard(&dashboard);
  events.Start();
  absl::Status http_ok = http.Start(config.server.http_listen);
  if (!http_ok.ok()) {
    server->Shutdown();
    return Fail(http_ok.ToString());
  }
  elector.Start();
  scheduler.Start();
  listener.Start();
  scheduler.Wake();
  // hai's hosts follow Slurm's nodes (scheduler/slurm/node_sync.h).
  std::unique_ptr<hai::slurm::SlurmCli> slurm_cli;
  std::unique_ptr<StoreNodeSync> slurm_store;
  std::unique_ptr<hai::slurm::NodeSync> slurm_sync;
  if (config.manager.runtime == "slurm" && config.slurm.node_sync_interval > absl::ZeroDuration()) {
    slurm_cli = std::make_unique<hai::slurm::SlurmCli>(hai::slurm::CliOptions{
        config.slurm.bin_dir, config.slurm.slurm_conf, config.slurm.command_timeout});
    slurm_store = std::make_unique<StoreNodeSync>(store);
    slurm_sync = std::make_unique<hai::slurm::NodeSync>(
        *slurm_cli, *slurm_store, config.slurm.import_group, [&scheduler] { scheduler.Wake(); });
    slurm_sync->Start(config.slurm.node_sync_interval);
  }
  const char* transport = config.tls.enabled() ? " (TLS)" : " (plaintext)";
  HAI_LOG(INFO) << "haid serving gRPC on " << config.server.grpc_listen << transport << ", HTTP on "
                << config.server.http_listen << transport << ", " << config.nodes.size()
                << " configured node(s), data in " << data_dir.string();

  int sig = 0;
  sigwait(&signals, &sig);
  HAI_LOG(INFO) << "signal " << sig << ": shutting down (running tasks keep running)";
  // Hand over first, without waiting for the pass in progress: the lease and lock are
  // released and a standby takes over while this replica drains its API calls. The pass in
  // progress may still write until the standby's epoch is in; after that Postgres refuses its
  // writes (the fence), so one epoch writes at a time as after a crash.
  scheduler.RequestStop();
  elector.Handover();
  scheduler.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  http.Stop();
  events.Stop();
  listener.Stop();
  if (slurm_sync != nullptr) slurm_sync->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"haid: the hai time-sharing GPU scheduler daemon"};
  std::string config_path = "config/haid.toml";
  std::string override_path;
  app.add_option("--config", config_path, "configuration file")->capture_default_str();
  app.add_option("--config-override", override_path, "file whose keys override --config");
  app.require_subcommand(0, 1);
  CLI::App* migrate = app.add_subcommand("migrate", "apply pending schema migrations and exit");
  migrate->add_option("--config", config_path, "configuration file");
  migrate->add_option("--config-override", override_path, "override file");
  CLI11_PARSE(app, argc, argv);
  // Debian's abseil is built with mutex deadlock detection on: it records a lock graph on
  // every absl::Mutex acquisition (gRPC takes several per call), a few percent of haid's CPU
  // under submit load in perf. Lock order is covered by our tests, not by this graph.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  auto config = hai::LoadConfig(config_path, override_path);
  if (!config.ok()) {
    std::fprintf(stderr, "haid: invalid configuration: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  hai::LogLevel level;
  if (hai::ParseLogLevel(config->server.log_level, &level)) hai::SetLogLevel(level);
  hai::SetLogProgramName("haid");
  if (migrate->parsed()) return RunMigrate(*config);
  if (absl::Status s = hai::CheckTransport(*config); !s.ok()) {
    std::fprintf(stderr, "haid: invalid configuration: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (!config->tls.enabled() && !(hai::IsLoopbackListen(config->server.grpc_listen) &&
                                  hai::IsLoopbackListen(config->server.http_listen))) {
    HAI_LOG(WARNING) << "tls.allow_plaintext: serving plaintext off loopback; bearer tokens "
                     << "cross the network in clear (docs/security.md)";
  }
  return RunDaemon(*config, config_path, override_path);
}
