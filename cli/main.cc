// hai-cli: the user command line of hai over the hai.v1 gRPC API. This file only wires the
// subcommands together and turns errors into the documented exit codes (exit_codes.h).
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/exit_codes.h"

#ifndef HAI_VERSION
#define HAI_VERSION "dev"
#endif

int main(int argc, char** argv) {
  using namespace hai::cli;
  CLI::App app("hai-cli: submit and manage training tasks on a hai cluster", "hai-cli");
  app.set_version_flag("--version", std::string("hai-cli ") + HAI_VERSION);
  app.require_subcommand(1);
  app.footer(std::string(kExitCodeHelp));
  // Same shape as every other error: "hai-cli: <message>" on stderr.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("hai-cli: ") + e.what() + "\nRun with --help for more information.\n";
  });

  CommandSet set;
  app.add_flag("--json", set.globals.json, "print machine-readable JSON");
  app.add_option("--timeout", set.globals.timeout_seconds,
                 "deadline of each call in seconds (default 10; log following has none)")
      ->check(CLI::PositiveNumber);
  app.add_option("--ca-file", set.globals.ca_file,
                 "verify haid over TLS with this CA certificate (PEM); overrides $HAI_CA_FILE "
                 "and the config's ca_file");

  AddConfigCommands(app, set);
  AddSubmitCommands(app, set);
  AddTaskCommands(app, set);
  AddLogsCommand(app, set);
  AddClusterCommands(app, set);
  AddAdminCommands(app, set);
  AddJupyterCommands(app, set);
  AddUsageCommand(app, set);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_footer().empty()) sub->footer(std::string(kExitCodeHelp));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with code 0; every real parse error is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (!set.action) return kExitUsage;  // unreachable: require_subcommand(1)
  const absl::StatusOr<int> result = set.action();
  if (!result.ok()) {
    std::cerr << "hai-cli: " << result.status().message() << std::endl;
    return ExitCodeFor(result.status());
  }
  return *result;
}
