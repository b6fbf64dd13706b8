#include "test/e2e/harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "test/support/loopback.h"

extern char** environ;

namespace hai::testing {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

CommandResult RunCommand(const std::string& command,
                         const std::map<std::string, std::string>& env) {
  std::string full;
  // export, not a `K=V cmd` prefix: the command may be a list (`cd dir && hai-cli ...`).
  for (const auto& [k, v] : env) absl::StrAppend(&full, "export ", k, "=", ShellQuote(v), "; ");
  absl::StrAppend(&full, "{ ", command, "; } 2>&1");
  CommandResult result;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool WaitFor(const std::function<bool()>& condition, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

int FreePort() { return FreeLoopbackPort(); }

Cluster::Cluster(int nodes, int gpus, const std::string& extra_toml,
                 const std::string& scheduler_toml) {
  db_ = TestDatabase::Create();
  dir_ = MakeTempDir("hai-e2e-");
  grpc_port_ = FreePort();
  http_port_ = FreePort();
  config_path_ = dir_ + "/haid.toml";
  std::ofstream cfg(config_path_);
  cfg << "[server]\n"
      << "grpc_listen = \"127.0.0.1:" << grpc_port_ << "\"\n"
      << "http_listen = \"127.0.0.1:" << http_port_ << "\"\n"
      << "data_dir = \"" << dir_ << "/var\"\n"
      << "[database]\nurl = \"" << db_->url() << "\"\npool_size = 4\n"
      << "[redis]\nhost = \"127.0.0.1\"\nport = " << RedisPort() << "\nprefix = \"" << db_->name()
      << "\"\n"
      << "[scheduler]\ntick_ms = 500\nkill_grace_s = 2\nsuspend_grace_s = 5\n"
      << scheduler_toml << "\n"
      << "[manager]\nbinary = \"" << BinDir() << "/hai-manager\"\nheartbeat_ms = 500\n";
  for (int i = 0; i < nodes; ++i) {
    cfg << "[[nodes]]\nname = \"node-" << i << "\"\ngroup = \"default\"\ngpus = " << gpus
        << "\n";
  }
  cfg << extra_toml;
  cfg.close();
  db_->Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
      "('public','public','node-default-LOW', 4), ('public','public','node-default-NORMAL', 4),"
      "('public','public','node-default-HIGH', 4)");
}

Cluster::~Cluster() {
  for (int i = 1; i < replicas(); ++i) StopReplica(i);
  StopDaemon();
  // Stop whatever the test left running (managers and ranks of this cluster only).
  RunCommand(absl::StrCat("pkill -KILL -f ", ShellQuote(config_path_)));
  try {
    auto conn = db_->Connect();
    pqxx::nontransaction tx(*conn);
    for (const auto& r : tx.exec("SELECT pid FROM pods WHERE pid IS NOT NULL")) {
      kill(-r[0].as<int>(), SIGKILL);
    }
  } catch (const std::exception&) {
  }
  // The user commands run in process groups of their own (rank_supervisor.h).
  std::error_code ec;
  for (const auto& attempt : std::filesystem::directory_iterator(dir_ + "/var/run", ec)) {
    for (const auto& f : std::filesystem::directory_iterator(attempt.path(), ec)) {
      if (f.path().extension() != ".pgid") continue;
      std::ifstream in(f.path());
      int pgid = 0;
      if (in >> pgid && pgid > 1) kill(-pgid, SIGKILL);
    }
  }
  // Keep the directory (config, haid.log, rank logs) of a failed test for the post-mortem.
  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(dir_, ec);
  }
}

void Cluster::EnableTls(const std::string& cert_file, const std::string& key_file,
                        const std::string& ca_file) {
  std::ofstream cfg(config_path_, std::ios::app);
  cfg << "\n[tls]\ncert_file = \"" << cert_file << "\"\nkey_file = \"" << key_file
      << "\"\nca_file = \"" << ca_file << "\"\n";
  tls_ca_ = ca_file;
}

void Cluster::StartDaemon() {
  ASSERT_LT(haid_pid_, 0) << "haid already running";
  haid_pid_ = SpawnDaemon({"--config", config_path_}, dir_ + "/haid.log", http_port_, {}, true);
  ASSERT_GT(haid_pid_, 0) << "haid did not become ready:\n" << DaemonLog();
}

pid_t Cluster::SpawnDaemon(const std::vector<std::string>& extra, const std::string& log,
                           int http_port, const std::map<std::string, std::string>& env,
                           bool wait) {
  const std::string haid = BinDir() + "/haid";
  std::vector<std::string> args = {haid};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, haid.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  if (!wait) return pid;
  httplib::Client client("127.0.0.1", http_port);
  bool ready = WaitFor(
      [&] {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
          pid = -1;
          return true;  // exited: reported by the caller
        }
        if (!tls_ca_.empty()) {
          return RunCommand(absl::StrCat("curl -sf --cacert ", ShellQuote(tls_ca_),
                                         " https://127.0.0.1:", http_port, "/readyz"))
                     .exit_code == 0;
        }
        auto res = client.Get("/readyz");
        return res && res->status == 200;
      },
      20000);
  if (!ready && pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  return pid;
}

void Cluster::AddReplicas(int n) {
  for (int i = 0; i < n; ++i) {
    Replica r;
    r.grpc_port = FreePort();
    r.http_port = FreePort();
    r.override_path = absl::StrCat(dir_, "/haid-", replicas_.size() + 1, ".toml");
    std::ofstream o(r.override_path);
    o << "[server]\ngrpc_listen = \"127.0.0.1:" << r.grpc_port << "\"\n"
      << "http_listen = \"127.0.0.1:" << r.http_port << "\"\n";
    replicas_.push_back(r);
  }
  // Every replica serves the manager API: a manager whose haid died reports to the next
  // (docs/deploy.md), as an HA deployment lists them.
  std::string endpoints = absl::StrCat("[\"127.0.0.1:", grpc_port_, "\"");
  for (const Replica& r : replicas_) absl::StrAppend(&endpoints, ", \"127.0.0.1:", r.grpc_port, "\"");
  SetManagerKey("haid_endpoints", endpoints + "]");
}

void Cluster::StartReplica(int i, const std::map<std::string, std::string>& env, bool wait) {
  if (i == 0) {
    ASSERT_LT(haid_pid_, 0) << "haid already running";
    haid_pid_ = SpawnDaemon({"--config", config_path_}, dir_ + "/haid.log", http_port_, env, wait);
    ASSERT_GT(haid_pid_, 0) << "haid did not become ready:\n" << DaemonLog();
    return;
  }
  Replica& r = replicas_.at(i - 1);
  ASSERT_LT(r.pid, 0) << "replica " << i << " already running";
  r.pid = SpawnDaemon({"--config", config_path_, "--config-override", r.override_path},
                      absl::StrCat(dir_, "/haid-", i, ".log"), r.http_port, env, wait);
  ASSERT_GT(r.pid, 0) << "replica " << i << " did not become ready:\n" << ReplicaLog(i);
}

pid_t Cluster::replica_pid(int i) const { return i == 0 ? haid_pid_ : replicas_.at(i - 1).pid; }

int Cluster::replica_http_port(int i) const {
  return i == 0 ? http_port_ : replicas_.at(i - 1).http_port;
}

void Cluster::SignalReplica(int i, int sig) {
  if (replica_pid(i) > 0) kill(replica_pid(i), sig);
}

void Cluster::KillReplica(int i) {
  if (i == 0) return KillDaemon();
  Replica& r = replicas_.at(i - 1);
  if (r.pid <= 0) return;
  kill(r.pid, SIGKILL);
  waitpid(r.pid, nullptr, 0);
  r.pid = -1;
}

void Cluster::StopReplica(int i) {
  if (i == 0) return StopDaemon();
  Replica& r = replicas_.at(i - 1);
  if (r.pid <= 0) return;
  kill(r.pid, SIGCONT);  // a paused replica must run to exit
  kill(r.pid, SIGTERM);
  int status = 0;
  if (!WaitFor([&] { return waitpid(r.pid, &status, WNOHANG) == r.pid; }, 10000)) {
    kill(r.pid, SIGKILL);
    waitpid(r.pid, nullptr, 0);
  }
  r.pid = -1;
}

std::string Cluster::ReplicaLog(int i) const {
  if (i == 0) return DaemonLog();
  std::ifstream f(absl::StrCat(dir_, "/haid-", i, ".log"));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Cluster::Readyz(int i) const {
  httplib::Client client("127.0.0.1", replica_http_port(i));
  client.set_connection_timeout(1);
  client.set_read_timeout(2);
  auto res = client.Get("/readyz");
  if (!res || res->status != 200) return "";
  std::string body = res->body;
  while (!body.empty() && body.back() == '\n') body.pop_back();
  return body;
}

std::string Cluster::Endpoints() const {
  std::string out = absl::StrCat("127.0.0.1:", grpc_port_);
  for (const Replica& r : replicas_) absl::StrAppend(&out, ",127.0.0.1:", r.grpc_port);
  return out;
}

void Cluster::KillDaemon() {
  if (haid_pid_ <= 0) return;
  kill(haid_pid_, SIGKILL);
  waitpid(haid_pid_, nullptr, 0);
  haid_pid_ = -1;
}

void Cluster::StopDaemon() {
  if (haid_pid_ <= 0) return;
  kill(haid_pid_, SIGCONT);  // a paused daemon must run to exit
  kill(haid_pid_, SIGTERM);
  int status = 0;
  if (!WaitFor([&] { return waitpid(haid_pid_, &status, WNOHANG) == haid_pid_; }, 10000)) {
    kill(haid_pid_, SIGKILL);
    waitpid(haid_pid_, nullptr, 0);
  }
  haid_pid_ = -1;
}

void Cluster::AddUser(const std::string& name, const std::string& token,
                      const std::string& role) {
  db_->Exec(absl::StrCat("INSERT INTO users (user_name, role, token_hash) VALUES ('", name,
                         "', '", role, "', '", HashToken(token), "')"));
  const std::string home = absl::StrCat(dir_, "/home-", name);
  RunCommand("mkdir -p " + ShellQuote(home));
  user_dirs_[name] = home;
  auto r = RunCommand(absl::StrCat(BinDir(), "/hai-cli init ", token, " --url ", Endpoints(),
                                   tls_ca_.empty() ? "" : " --ca-file " + ShellQuote(tls_ca_)),
                      {{"HAI_CONFIG_DIR", home}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

CommandResult Cluster::Cli(const std::string& user, const std::string& args,
                           std::map<std::string, std::string> env) {
  env["HAI_CONFIG_DIR"] = user_dirs_.at(user);
  return RunCommand(absl::StrCat("cd ", ShellQuote(dir_), " && ", BinDir(), "/hai-cli ", args),
                    env);
}

int64_t Cluster::Submit(const std::string& user, const std::string& script,
                        const std::string& opts) {
  auto r = Cli(user, absl::StrCat("python ", script, " -- ", opts, " --name t", ++submits_,
                                  " --json"));
  const size_t at = r.output.find("\"chain_id\"");
  if (r.exit_code != 0 || at == std::string::npos) {
    ADD_FAILURE() << "submit failed (exit " << r.exit_code << "): " << r.output;
    return 0;
  }
  return std::stoll(r.output.substr(r.output.find_first_of("0123456789", at)));
}

std::string Cluster::CurrentState(int64_t chain_id) {
  return db_->Query(absl::StrCat("SELECT state FROM attempts WHERE chain_id = ", chain_id,
                                 " ORDER BY attempt_no DESC LIMIT 1"));
}

void Cluster::SetSchedulerKey(const std::string& key, const std::string& value) {
  // The harness writes tick_ms first in [scheduler]; the new key goes right after it.
  RunCommand(absl::StrCat("sed -i 's/^tick_ms = .*/&\\n", key, " = ", value, "/' ",
                          ShellQuote(config_path_)));
}

void Cluster::SetManagerKey(const std::string& key, const std::string& value) {
  RunCommand(absl::StrCat("sed -i 's/^heartbeat_ms = .*/&\\n", key, " = ", value, "/' ",
                          ShellQuote(config_path_)));
}

std::string Cluster::WriteScript(const std::string& name, const std::string& body) {
  const std::string path = dir_ + "/" + name;
  std::ofstream f(path);
  f << body;
  f.close();
  chmod(path.c_str(), 0755);
  return path;
}

std::string Cluster::DaemonLog() const {
  std::ifstream f(dir_ + "/haid.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace hai::testing
