// End-to-end harness: a real haid (with its real hai-manager children) on free loopback
// ports, against a fresh test database and the test Redis, driven through the real hai-cli
// binary as each user would. Nothing is mocked.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test/support/test_env.h"

namespace hai::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh, extra environment prepended; waits for it.
CommandResult RunCommand(const std::string& command,
                         const std::map<std::string, std::string>& env = {});

// Polls `condition` every 50 ms until true or `timeout_ms` passes.
bool WaitFor(const std::function<bool()>& condition, int timeout_ms);

// A free TCP port on 127.0.0.1 (bound and released).
int FreePort();

class Cluster {
 public:
  // nodes x gpus local nodes in group `default`; `extra_toml` is appended to the config.
  // `extra_toml` is appended to the config; `scheduler_toml` lines go into its [scheduler].
  Cluster(int nodes, int gpus, const std::string& extra_toml = "",
          const std::string& scheduler_toml = "");
  ~Cluster();

  // Serves gRPC and the side port with TLS ([tls] cert_file/key_file/ca_file appended to the
  // config; before StartDaemon and AddUser): readiness is checked over https with `ca_file`,
  // and users' hai-cli configs name it.
  void EnableTls(const std::string& cert_file, const std::string& key_file,
                 const std::string& ca_file);

  // Starts haid and waits until /readyz answers 200 (fails the test otherwise).
  void StartDaemon();
  // SIGKILLs haid (its managers keep running: they are in their own sessions).
  void KillDaemon();
  void StopDaemon();  // SIGTERM and wait

  // Creates a user with `token` (role internal unless given) and an hai-cli config dir.
  void AddUser(const std::string& name, const std::string& token,
               const std::string& role = "internal");
  // Runs `hai-cli <args>` as that user (cwd: the cluster's work dir).
  // `env` adds variables (e.g. HAI_TOKEN to act with another token).
  CommandResult Cli(const std::string& user, const std::string& args,
                    std::map<std::string, std::string> env = {});
  // `python SCRIPT -- OPTS --name tN --json` as `user` (each task named apart: a user's open
  // tasks need distinct names); returns the chain id, 0 (and a test failure) on error.
  int64_t Submit(const std::string& user, const std::string& script, const std::string& opts);
  // State of the chain's newest attempt, from Postgres ("" when none).
  std::string CurrentState(int64_t chain_id);
  // Adds `key = value` to the [scheduler] table of the config (before StartDaemon).
  void SetSchedulerKey(const std::string& key, const std::string& value);
  // Adds `key = value` to the [manager] table of the config (before StartDaemon).
  void SetManagerKey(const std::string& key, const std::string& value);

  // Writes an executable script into the work dir; returns its absolute path.
  std::string WriteScript(const std::string& name, const std::string& body);

  // High availability (issue 18): `n` more haid replicas on the same config and database,
  // each with its own ports (a --config-override file) and log (haid-<i>.log). Call before
  // AddUser: users' hai-cli configs then list every replica (Endpoints()). Replica 0 is the
  // daemon of StartDaemon/KillDaemon/StopDaemon.
  void AddReplicas(int n);
  int replicas() const { return static_cast<int>(replicas_.size()) + 1; }
  // Starts replica i with `env` added; waits until /readyz answers 200 when `wait`.
  void StartReplica(int i, const std::map<std::string, std::string>& env = {}, bool wait = true);
  void KillReplica(int i);  // SIGKILL and reap
  void StopReplica(int i);  // SIGTERM and wait
  void SignalReplica(int i, int sig);
  pid_t replica_pid(int i) const;  // -1 when not running
  int replica_http_port(int i) const;
  std::string ReplicaLog(int i) const;
  // GET /readyz of replica i: "ready leader epoch N", "ready standby epoch N", "" if down.
  std::string Readyz(int i) const;
  // Every replica's gRPC address, comma-separated (hai-cli's list form).
  std::string Endpoints() const;

  TestDatabase& db() { return *db_; }
  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  pid_t haid_pid() const { return haid_pid_; }  // -1 when not running
  int http_port() const { return http_port_; }  // haid's side port
  int grpc_port() const { return grpc_port_; }
  std::string DaemonLog() const;

 private:
  std::unique_ptr<TestDatabase> db_;
  std::string dir_;
  std::string config_path_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  pid_t haid_pid_ = -1;
  std::string tls_ca_;  // EnableTls: the CA hai-cli and the readiness probe verify with
  std::map<std::string, std::string> user_dirs_;
  struct Replica {
    int grpc_port = 0;
    int http_port = 0;
    std::string override_path;
    pid_t pid = -1;
  };
  std::vector<Replica> replicas_;  // replicas 1..n
  // Spawns haid with `args` and `env` added, output to `log`; waits for /readyz on `http_port`.
  pid_t SpawnDaemon(const std::vector<std::string>& args, const std::string& log, int http_port,
                    const std::map<std::string, std::string>& env, bool wait);
  int submits_ = 0;
};

}  // namespace hai::testing
