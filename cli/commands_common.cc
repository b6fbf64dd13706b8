// Helpers shared by the subcommands: connecting, JSON output, the --json flag.
#include <iostream>
#include <utility>

#include "absl/time/time.h"
#include "cli/client_config.h"
#include "cli/commands.h"
#include "cli/render.h"

namespace hai::cli {

void AddJsonFlag(CLI::App* sub, CommandSet& set) {
  sub->add_flag("--json", set.globals.json, "print machine-readable JSON");
}

absl::StatusOr<std::unique_ptr<Connection>> Connect(const GlobalOptions& globals) {
  absl::StatusOr<ClientConfig> config = LoadClientConfig(ConfigEnvFromProcess());
  if (!config.ok()) return config.status();
  return std::make_unique<Connection>(*std::move(config),
                                      absl::Seconds(globals.timeout_seconds));
}

void PrintJson(const google::protobuf::Message& message) {
  std::cout << ToJson(message) << std::endl;
}

}  // namespace hai::cli
