// Read-only views: list, queue, nodes, whoami (alias quota).
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/render.h"
#include "common/status_macros.h"

namespace hai::cli {
namespace {

struct ListArgs {
  bool all = false;
  bool finished = false;
  int limit = 0;
};

struct QueueArgs {
  bool all = false;
  std::string group;
};

absl::StatusOr<int> RunList(const GlobalOptions& globals, const ListArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  hai::v1::ListRequest request;
  request.set_all_users(args.all);
  request.set_include_finished(args.finished);
  request.set_limit(args.limit);
  hai::v1::ListResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check(conn->tasks().List(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << RenderTaskList(response, absl::Now());
  }
  return kExitOk;
}

absl::StatusOr<int> RunQueue(const GlobalOptions& globals, const QueueArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  hai::v1::QueueRequest request;
  request.set_all_users(args.all);
  request.set_group(args.group);
  hai::v1::QueueResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check(conn->tasks().Queue(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << RenderQueue(response);
  }
  return kExitOk;
}


absl::StatusOr<int> RunWhoAmI(const GlobalOptions& globals) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  hai::v1::WhoAmIResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(
      conn->Check(conn->users().WhoAmI(ctx.get(), hai::v1::WhoAmIRequest(), &response)));
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << RenderWhoAmI(response);
  }
  return kExitOk;
}

}  // namespace

absl::StatusOr<int> RunNodes(const GlobalOptions& globals, const std::string& group) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  hai::v1::ListNodesRequest request;
  request.set_group(group);
  hai::v1::ListNodesResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check(conn->cluster().ListNodes(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << RenderNodes(response);
  }
  return kExitOk;
}

void AddClusterCommands(CLI::App& app, CommandSet& set) {
  {
    auto args = std::make_shared<ListArgs>();
    CLI::App* sub = app.add_subcommand("list", "your open tasks (a table)");
    sub->add_flag("-a,--all", args->all, "every user's tasks (admins)");
    sub->add_flag("--finished", args->finished, "include finished tasks");
    sub->add_option("--limit", args->limit, "at most N tasks (server default 50, max 1000)")
        ->check(CLI::Range(1, 1000));
    AddJsonFlag(sub, set);
    sub->callback([&set, args] { set.action = [&set, args] { return RunList(set.globals, *args); }; });
  }
  {
    auto args = std::make_shared<QueueArgs>();
    CLI::App* sub =
        app.add_subcommand("queue", "waiting tasks: position in tier, reason, detail");
    sub->add_flag("-a,--all", args->all, "every user's waiting tasks");
    sub->add_option("-g,--group", args->group, "only this node group");
    AddJsonFlag(sub, set);
    sub->callback(
        [&set, args] { set.action = [&set, args] { return RunQueue(set.globals, *args); }; });
  }
  {
    auto group = std::make_shared<std::string>();
    CLI::App* sub = app.add_subcommand("nodes", "nodes, their GPUs in use, state and tasks");
    sub->add_option("-g,--group", *group, "only this node group");
    AddJsonFlag(sub, set);
    sub->callback(
        [&set, group] { set.action = [&set, group] { return RunNodes(set.globals, *group); }; });
  }
  {
    CLI::App* sub = app.add_subcommand("whoami", "your user, role, groups and quota");
    sub->alias("quota");
    AddJsonFlag(sub, set);
    sub->callback([&set] { set.action = [&set] { return RunWhoAmI(set.globals); }; });
  }
}

}  // namespace hai::cli
