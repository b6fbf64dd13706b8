// The subcommands of hai-cli. Each Add*Commands registers its subcommands on the CLI11 app;
// a subcommand's parse callback only stores the action to run, so parsing never talks to the
// network and main() runs exactly one action after a successful parse. Actions return the
// process exit code or an error status that main() prints and maps (exit_codes.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "cli/rpc.h"
#include "google/protobuf/message.h"
#include "hai/v1/task.pb.h"

namespace hai::cli {

// Options valid before and after the subcommand word.
struct GlobalOptions {
  bool json = false;           // machine-readable output
  double timeout_seconds = 10;  // deadline of every non-streaming call
  std::string ca_file;          // --ca-file: verify haid over TLS with this CA
};

struct CommandSet {
  GlobalOptions globals;
  std::function<absl::StatusOr<int>()> action;  // set by the parsed subcommand
};

void AddConfigCommands(CLI::App& app, CommandSet& set);   // init
void AddSubmitCommands(CLI::App& app, CommandSet& set);   // python, bash
void AddTaskCommands(CLI::App& app, CommandSet& set);     // status, stop, suspend, resume, priority
void AddLogsCommand(CLI::App& app, CommandSet& set);      // logs
void AddClusterCommands(CLI::App& app, CommandSet& set);  // list, queue, nodes, whoami
void AddAdminCommands(CLI::App& app, CommandSet& set);    // admin user|quota|node|check
void AddJupyterCommands(CLI::App& app, CommandSet& set);  // jupyter create|list|url|stop
void AddUsageCommand(CLI::App& app, CommandSet& set);     // usage

// Adds `--json` to a subcommand (it is also accepted before the subcommand word).
void AddJsonFlag(CLI::App* sub, CommandSet& set);

// Loads the client config (file + env) and opens a connection with the global timeout.
absl::StatusOr<std::unique_ptr<Connection>> Connect(const GlobalOptions& globals);

// `hai-cli nodes` (also `admin node list`): nodes, GPUs in use, state and tasks.
absl::StatusOr<int> RunNodes(const GlobalOptions& globals, const std::string& group);

// Fetches the task named by `task` (chain id or name) with all its attempts.
absl::StatusOr<hai::v1::Task> GetTask(Connection& conn, const std::string& task);

// Prints `message` as one JSON document on stdout.
void PrintJson(const google::protobuf::Message& message);

struct LogsOptions {
  int rank = -1;     // -1 = every rank
  int attempt = -1;  // -1 = every attempt, in order
  bool follow = false;
};

// Streams the logs of `task` (already fetched, so its chain id and size are known) to stdout.
// Without follow: 0 once the stream ends. With follow: the task's exit code
// (ExitCodeForFinalState) once it finishes.
absl::StatusOr<int> StreamTaskLogs(Connection& conn, const hai::v1::Task& task,
                                   const LogsOptions& options, bool json);

}  // namespace hai::cli
