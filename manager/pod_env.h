// How a rank is launched: its environment, argv and working directory. Pure functions of the
// attempt, so the exact contract with in-task code (RANK, WORLD_SIZE, HAI_TASK_TOKEN, ...) is
// unit-tested without starting anything.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "manager/attempt_info.h"

namespace hai::manager {

// Per-attempt values that are not in the database.
struct PodEnvContext {
  int world_size = 1;
  int master_port = 0;
  std::string control_url;  // HAI_CONTROL_URL
  std::string ca_file;      // HAI_CA_FILE (tls.ca_file): unset when empty
  std::string task_token;   // HAI_TASK_TOKEN (plaintext; only its hash is stored)
  std::string log_dir;      // HAI_LOG_DIR
};

// The variables a rank inherits from the manager's own environment (PATH, HOME, LANG, LC_*,
// ...). Everything else of the manager's environment (database URLs, secrets) stays out.
bool IsInheritedVariable(const std::string& name);

// Environment of one rank as "KEY=VALUE", sorted by key. Precedence, lowest first: inherited
// variables, the train environment's env, the chain's env, then hai's own variables, which
// nobody can override (a user setting RANK would break the job's rendezvous).
// `manager_environ` is the manager's environment ("KEY=VALUE" entries).
std::vector<std::string> BuildPodEnv(const AttemptInfo& attempt, const PodInfo& pod,
                                     const PodEnvContext& ctx,
                                     const std::vector<std::string>& manager_environ);

// argv of the user command: `<python> <entrypoint> <args...>` for python,
// `/bin/bash <entrypoint> <args...>` for bash, `<notebook binary> --config=<file>` for a
// jupyter attempt whose JupyterPodInfo the manager prepared. InvalidArgument otherwise.
absl::StatusOr<std::vector<std::string>> BuildPodArgv(const AttemptInfo& attempt);

// The jupyter workspace; else chains.workdir, or the entrypoint's directory when empty (or
// "." when that is unknown).
std::string PodWorkdir(const AttemptInfo& attempt);

// The entrypoint as a path valid from PodWorkdir() (relative entrypoints are relative to it).
std::string ResolvedEntrypoint(const AttemptInfo& attempt);

// HAI_CONTROL_URL: server.control_url, or "http://" + server.http_listen when that is empty
// ("https://" when the side port serves TLS).
std::string ControlUrl(const std::string& control_url, const std::string& http_listen,
                       bool tls = false);

}  // namespace hai::manager
