// Helpers shared by the subcommands: connecting, JSON output, the --json flag.
#include <iostream>
#include <utility>

#include "absl/time/time.h"
#include "cli/client_config.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "cli/task_ref.h"

namespace hai::cli {

void AddJsonFlag(CLI::App* sub, CommandSet& set) {
  sub->add_flag("--json", set.globals.json, "print machine-readable JSON");
}

absl::StatusOr<std::unique_ptr<Connection>> Connect(const GlobalOptions& globals) {
  absl::StatusOr<ClientConfig> config = LoadClientConfig(ConfigEnvFromProcess());
  if (!config.ok()) return config.status();
  if (!globals.ca_file.empty()) {
    config->ca_file = globals.ca_file;
    config->tls = true;
  }
  auto credentials = ChannelCredentialsFor(*config);
  if (!credentials.ok()) return credentials.status();
  return std::make_unique<Connection>(*std::move(config), absl::Seconds(globals.timeout_seconds),
                                      *std::move(credentials));
}

absl::StatusOr<hai::v1::Task> GetTask(Connection& conn, const std::string& task) {
  absl::StatusOr<hai::v1::TaskRef> ref = ParseTaskRef(task);
  if (!ref.ok()) return ref.status();
  hai::v1::GetRequest request;
  *request.mutable_task() = *ref;
  hai::v1::GetResponse response;
  const auto ctx = conn.NewContext();
  if (absl::Status s = conn.Check(conn.tasks().Get(ctx.get(), request, &response)); !s.ok()) {
    return s;
  }
  return std::move(*response.mutable_task());
}

void PrintJson(const google::protobuf::Message& message) {
  std::cout << ToJson(message) << std::endl;
}

}  // namespace hai::cli
