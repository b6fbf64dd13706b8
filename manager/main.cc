// hai-manager: drives one attempt (see lifecycle.h). Launched by haid as
//   hai-manager --config F [--config-override F] --attempt ID [--credential-fd N]
// With manager.store = "haid" it reads and writes its attempt through haid's manager API
// (RemoteAttemptStore), authenticated by the credential haid wrote to fd N; with "postgres"
// through a connection of its own (PgAttemptStore).
// and re-executed by the local runtime as `hai-manager --rank-supervisor ...` to lead a rank.
// Exit codes: 0 the attempt ended or was handed over, 1 it could not be driven, 2 bad usage.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/db_url.h"
#include "common/log.h"
#include "common/proc.h"
#include "manager/control_hints.h"
#include "manager/lifecycle.h"
#include "manager/pg/pg_attempt_store.h"
#include "manager/pod_env.h"
#include "manager/remote/remote_attempt_store.h"
#include "manager/runtime/kubernetes/kube_runtime.h"
#include "manager/runtime/local/local_runtime.h"
#include "manager/runtime/local/rank_supervisor.h"
#include "manager/runtime/slurm/slurm_runtime.h"

extern char** environ;

namespace {

volatile std::sig_atomic_t g_shutdown = 0;
void OnTerminate(int) { g_shutdown = 1; }

int Usage(const std::string& why) {
  HAI_LOG(ERROR) << why
                 << "\nusage: hai-manager --config FILE [--config-override FILE] --attempt ID "
                    "[--credential-fd N]";
  return 2;
}

std::string SelfBinary() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// manager.runtime is "local", "kubernetes" or "slurm" (the config loader refuses anything else).
bool OnKubernetes(const hai::Config& config) { return config.manager.runtime == "kubernetes"; }
bool OnSlurm(const hai::Config& config) { return config.manager.runtime == "slurm"; }

// The runtime manager.runtime names. Kubernetes: the endpoint comes from the kubeconfig, or
// the in-cluster service account when kubernetes.kubeconfig is empty.
absl::StatusOr<std::unique_ptr<hai::manager::PodRuntime>> MakeRuntime(const hai::Config& config,
                                                                      int64_t attempt_id) {
  if (OnSlurm(config)) {
    namespace slurm_rt = hai::manager::slurm_rt;
    const hai::SlurmConfig& c = config.slurm;
    slurm_rt::SlurmRuntimeOptions opt;
    opt.supervisor_binary = c.supervisor_binary.empty() ? SelfBinary() : c.supervisor_binary;
    opt.job_name_prefix = c.job_name_prefix;
    opt.partition = c.partition;
    opt.account = c.account;
    opt.qos = c.qos;
    opt.extra_sbatch_args = c.extra_sbatch_args;
    // Only root may submit as another user (sbatch --uid); otherwise jobs are the manager's.
    opt.run_as_users = ::geteuid() == 0;
    return std::make_unique<slurm_rt::SlurmPodRuntime>(
        std::make_unique<hai::slurm::SlurmCli>(
            hai::slurm::CliOptions{c.bin_dir, c.slurm_conf, c.command_timeout}),
        attempt_id, std::move(opt));
  }
  if (!OnKubernetes(config)) {
    return std::make_unique<hai::manager::LocalPodRuntime>(SelfBinary());
  }
  namespace kube = hai::manager::kube;
  const hai::KubernetesConfig& k = config.kubernetes;
  auto endpoint = k.kubeconfig.empty() ? kube::InClusterEndpoint()
                                       : kube::LoadKubeconfig(k.kubeconfig, k.context);
  if (!endpoint.ok()) return endpoint.status();
  kube::ClientOptions client;
  client.request_timeout = k.request_timeout;
  client.max_retries = k.max_retries;
  kube::KubeRuntimeOptions opt;
  opt.manifest.namespace_ = k.namespace_;
  opt.manifest.gpu_resource = k.gpu_resource;
  opt.manifest.rdma_resource = k.rdma_resource;
  opt.manifest.default_image = k.default_image;
  opt.manifest.image_pull_policy = k.image_pull_policy;
  opt.manifest.service_account = k.service_account;
  opt.manifest.read_only_root_filesystem = k.read_only_root_filesystem;
  opt.manifest.termination_grace = config.scheduler.kill_grace;
  opt.timeouts.image_pull = k.image_pull_timeout;
  opt.timeouts.unschedulable = k.unschedulable_timeout;
  return std::make_unique<kube::KubernetesPodRuntime>(
      std::make_unique<kube::KubeClient>(*std::move(endpoint), client), attempt_id, std::move(opt));
}

// Reads the credential haid wrote to `fd` and closes it, so no rank inherits it.
absl::StatusOr<std::string> ReadCredential(int fd) {
  std::string cred;
  char buf[256];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat("cannot read credential fd ", fd));
    }
    if (n == 0) break;
    cred.append(buf, static_cast<size_t>(n));
    if (cred.size() > 4096) break;
  }
  ::close(fd);
  if (cred.empty() || cred.size() > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("no credential on fd ", fd));
  }
  return cred;
}

// manager.haid_endpoints, or haid's own gRPC address (a wildcard host means loopback here),
// or with TLS haid's unix socket (hai::ManagerSocketPath).
std::vector<std::string> HaidEndpoints(const hai::Config& config) {
  if (!config.manager.haid_endpoints.empty()) return config.manager.haid_endpoints;
  if (config.tls.enabled()) return {"unix:" + hai::ManagerSocketPath(config)};
  std::string listen = config.server.grpc_listen;
  for (const char* any : {"0.0.0.0:", "[::]:", "*:"}) {
    if (listen.rfind(any, 0) == 0) {
      listen = absl::StrCat("127.0.0.1:", listen.substr(std::string(any).size()));
    }
  }
  return {listen};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == hai::manager::kRankSupervisorFlag) {
    auto opts = hai::manager::ParseSupervisorArgs({args.begin() + 1, args.end()});
    if (!opts.ok()) return Usage(std::string(opts.status().message()));
    return hai::manager::RunRankSupervisor(*opts);
  }
  hai::SetLogProgramName(absl::StrCat("hai-manager[", ::getpid(), "]"));

  std::string config_path, override_path;
  int64_t attempt_id = 0;
  int credential_fd = -1;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return Usage(absl::StrCat("missing value for ", a));
    const std::string& v = args[++i];
    if (a == "--config") {
      config_path = v;
    } else if (a == "--config-override") {
      override_path = v;
    } else if (a == "--attempt") {
      if (!absl::SimpleAtoi(v, &attempt_id) || attempt_id <= 0) {
        return Usage(absl::StrCat("bad attempt id '", v, "'"));
      }
    } else if (a == "--credential-fd") {
      if (!absl::SimpleAtoi(v, &credential_fd) || credential_fd < 0) {
        return Usage(absl::StrCat("bad credential fd '", v, "'"));
      }
    } else {
      return Usage(absl::StrCat("unknown flag ", a));
    }
  }
  if (config_path.empty() || attempt_id == 0) return Usage("--config and --attempt are required");
  auto config = hai::LoadConfig(config_path, override_path);
  if (!config.ok()) return Usage(std::string(config.status().message()));
  hai::LogLevel level;
  if (hai::ParseLogLevel(config->server.log_level, &level)) hai::SetLogLevel(level);

  // SIGTERM (haid shutting down) must not touch the ranks: the loop notices the flag and
  // exits, and the next manager adopts them. No SA_RESTART so waits return promptly.
  struct sigaction sa {};
  sa.sa_handler = OnTerminate;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::string credential;
  if (credential_fd >= 0) {
    auto cred = ReadCredential(credential_fd);
    if (!cred.ok()) return Usage(std::string(cred.status().message()));
    credential = *std::move(cred);
  }
  const hai::manager::ManagerIdentity me{static_cast<int>(::getpid()), hai::proc::HostName(),
                                         hai::proc::SelfStartTime()};
  std::unique_ptr<hai::manager::AttemptStore> store;
  if (config->manager.store == "haid") {
    if (credential.empty()) return Usage("manager.store = \"haid\" needs --credential-fd");
    hai::manager::RemoteStoreOptions ro;
    ro.endpoints = HaidEndpoints(*config);
    ro.tls = config->tls.enabled();
    if (!config->tls.ca_file.empty()) {
      std::ifstream in(config->tls.ca_file);
      std::stringstream pem;
      pem << in.rdbuf();
      if (!in || pem.str().empty()) return Usage("cannot read tls.ca_file " + config->tls.ca_file);
      ro.ca_pem = pem.str();
    }
    ro.credential = credential;
    ro.call_timeout = config->manager.rpc_timeout;
    ro.retry_for = config->manager.retry;
    ro.shutdown_requested = [] { return g_shutdown != 0; };
    store = std::make_unique<hai::manager::RemoteAttemptStore>(attempt_id, me, std::move(ro),
                                                               hai::RealClock());
  } else {
    // connect/statement timeouts and TCP keepalives from [database] (common/db_url.h).
    auto pg = hai::manager::PgAttemptStore::Connect(hai::RuntimeDatabaseUrl(config->database),
                                                    attempt_id, me);
    if (!pg.ok()) {
      HAI_LOG(ERROR) << pg.status();
      return 1;
    }
    store = *std::move(pg);
  }
  auto runtime = MakeRuntime(*config, attempt_id);
  if (!runtime.ok()) {
    HAI_LOG(ERROR) << "runtime " << config->manager.runtime << ": " << runtime.status();
    return 1;
  }
  hai::manager::RedisHints hints(config->redis.host, config->redis.port, config->redis.prefix,
                                 attempt_id, config->redis.password);
  hai::manager::LifecycleOptions opt;
  opt.data_dir = std::filesystem::absolute(config->server.data_dir).lexically_normal().string();
  opt.control_url = hai::manager::ControlUrl(config->server.control_url, config->server.http_listen,
                                             config->tls.enabled());
  opt.ca_file = config->tls.ca_file;
  // Task pods run on other machines: a loopback control URL would leave in-task code
  // (receive_suspend_command, go_suspend) talking to itself.
  if ((OnKubernetes(*config) || OnSlurm(*config)) &&
      (opt.control_url.find("://127.") != std::string::npos ||
       opt.control_url.find("://localhost") != std::string::npos ||
       opt.control_url.find("://0.0.0.0") != std::string::npos)) {
    HAI_LOG(WARNING) << "task pods get HAI_CONTROL_URL=" << opt.control_url
                     << ", which they cannot reach; set server.control_url (docs/deploy.md)";
  }
  opt.heartbeat = config->manager.heartbeat;
  opt.suspend_grace = config->scheduler.suspend_grace;
  opt.kill_grace = config->scheduler.kill_grace;
  opt.max_self_requeues = config->scheduler.max_self_requeues;
  // Local and Slurm ranks inherit PATH, HOME, ... from the manager (Slurm nodes share the
  // software tree); a container gets them from its image.
  if (!OnKubernetes(*config)) {
    for (char** e = environ; *e != nullptr; ++e) opt.manager_environ.emplace_back(*e);
  }
  opt.shutdown_requested = [] { return g_shutdown != 0; };
  // Fault tests (test/integration/manager): die right after starting a rank, before its id is
  // recorded by the manager, as a manager killed at the worst moment would.
  if (const char* v = std::getenv("HAI_TEST_MANAGER_EXIT_AFTER_START"); v != nullptr && *v != 0) {
    opt.after_rank_start = [](int rank) {
      HAI_LOG(WARNING) << "HAI_TEST_MANAGER_EXIT_AFTER_START: exiting after starting rank " << rank;
      ::_exit(86);
    };
  }
  opt.jupyter.notebook_binary = config->jupyter.notebook_binary;
  opt.jupyter.gpu_sharing_groups = config->jupyter.gpu_sharing_groups;
  // Kubernetes: the server runs in its Pod, reached through a ClusterIP Service.
  opt.jupyter.in_pod = OnKubernetes(*config);
  opt.jupyter.pod_port = config->kubernetes.jupyter_port;
  opt.jupyter.image = config->kubernetes.jupyter_image;
  opt.jupyter.workspace_pvc = config->kubernetes.jupyter_workspace_pvc;
  opt.jupyter.workspace_host_path = config->kubernetes.jupyter_workspace_host_path;

  hai::manager::AttemptLifecycle lifecycle(attempt_id, *store, **runtime, hints, hai::RealClock(),
                                           std::move(opt));
  return lifecycle.Run();
}
