// `hai-cli python|bash SCRIPT [script args...] -- [hai options]`: submit a task, optionally
// following its logs. The command line is parsed by submit_args (pure); this file does I/O.
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/render.h"
#include "cli/submit_args.h"
#include "common/status_macros.h"

namespace hai::cli {
namespace {

absl::StatusOr<int> RunSubmit(const GlobalOptions& globals, const std::string& kind,
                              const std::vector<std::string>& raw) {
  ASSIGN_OR_RETURN(SubmitArgs args, ParseSubmitArgs(raw));
  std::error_code ec;
  const std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (ec) return UsageError(absl::StrCat("cannot read the current directory: ", ec.message()));
  // Checked here so a typo fails fast and locally; haid checks again on its side.
  ASSIGN_OR_RETURN(std::filesystem::path script, ResolveScript(args.script, cwd));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));

  const hai::v1::SubmitRequest request = BuildSubmitRequest(args, kind, script, cwd);
  hai::v1::SubmitResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check(conn->tasks().Submit(ctx.get(), request, &response)));

  const bool json = globals.json || args.json;
  if (json) {
    PrintJson(response.task());
  } else {
    std::cout << RenderSubmitted(response.task()) << std::flush;
  }
  if (!args.follow) return kExitOk;
  return StreamTaskLogs(*conn, response.task(), LogsOptions{.follow = true}, json);
}

void AddSubmit(CLI::App& app, CommandSet& set, const std::string& kind,
               const std::string& what) {
  CLI::App* sub = app.add_subcommand(
      kind, absl::StrCat("submit ", what, ": ", kind, " SCRIPT [script args...] -- [options]"));
  // Stop at SCRIPT: everything from there on, `--` included, reaches ParseSubmitArgs as is.
  sub->prefix_command();
  AddJsonFlag(sub, set);
  sub->footer(absl::StrCat(kSubmitOptionsHelp, "\n\n", kExitCodeHelp));
  sub->callback([&set, sub, kind] {
    set.action = [&set, sub, kind] { return RunSubmit(set.globals, kind, sub->remaining()); };
  });
}

}  // namespace

void AddSubmitCommands(CLI::App& app, CommandSet& set) {
  AddSubmit(app, set, "python", "a Python training script");
  AddSubmit(app, set, "bash", "a shell script");
}

}  // namespace hai::cli
