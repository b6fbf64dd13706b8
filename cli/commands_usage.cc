// `hai-cli usage [--since T] [--until T] [--by user|group|tier|node-group] [--json|--csv]`:
// GPU-hours allocated, lost to preemption, idle and unavailable (docs/usage.md).
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/usage_format.h"
#include "common/status_macros.h"

namespace hai::cli {
namespace {

struct UsageArgs {
  std::string since = "7d";
  std::string until = "now";
  std::string by = "user";
  bool csv = false;
};

absl::StatusOr<int> RunUsage(const GlobalOptions& globals, const UsageArgs& args) {
  const absl::Time now = absl::Now();
  ASSIGN_OR_RETURN(absl::Time since, ParseUsageTime(args.since, now));
  ASSIGN_OR_RETURN(absl::Time until, ParseUsageTime(args.until, now));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  hai::v1::UsageRequest request;
  request.set_since_unix_micros(absl::ToUnixMicros(since));
  // "now" is left to haid's clock (0), so a client clock ahead of it does not matter.
  request.set_until_unix_micros(args.until == "now" ? 0 : absl::ToUnixMicros(until));
  request.set_by(args.by);
  hai::v1::UsageResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check(conn->usage().Report(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response);
  } else if (args.csv) {
    std::cout << RenderUsageCsv(response);
  } else {
    std::cout << RenderUsageTable(response);
  }
  return kExitOk;
}

}  // namespace

void AddUsageCommand(CLI::App& app, CommandSet& set) {
  auto args = std::make_shared<UsageArgs>();
  CLI::App* sub = app.add_subcommand(
      "usage", "GPU-hours allocated, lost to preemption, idle and unavailable over a window");
  sub->add_option("--since", args->since,
                  "window start: RFC 3339, a date, or a duration ago (default 7d)");
  sub->add_option("--until", args->until, "window end (default now)");
  sub->add_option("--by", args->by, "rows per user, group, tier or node-group")
      ->check(CLI::IsMember({"user", "group", "tier", "node-group"}));
  AddJsonFlag(sub, set);
  sub->add_flag("--csv", args->csv, "print CSV");
  sub->callback(
      [&set, args] { set.action = [&set, args] { return RunUsage(set.globals, *args); }; });
}

}  // namespace hai::cli
