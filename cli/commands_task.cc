// Commands on one task: status, stop, suspend, resume, priority.
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "cli/render.h"
#include "cli/task_ref.h"
#include "common/status_macros.h"

namespace hai::cli {
namespace {

struct TaskArgs {
  std::string task;
  std::string priority;  // `priority` only
};

absl::StatusOr<int> RunStatus(const GlobalOptions& globals, const TaskArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  ASSIGN_OR_RETURN(hai::v1::Task task, GetTask(*conn, args.task));
  if (globals.json) {
    PrintJson(task);
  } else {
    std::cout << RenderTask(task, absl::Now(), absl::LocalTimeZone());
  }
  return kExitOk;
}

// stop/suspend/resume/priority share one shape: request with a TaskRef, response with the
// updated Task. `Rpc` is the stub method, `fill` adds request fields beyond the ref.
template <typename Request, typename Response, typename Rpc, typename Fill>
absl::StatusOr<int> RunControl(const GlobalOptions& globals, const TaskArgs& args, Rpc rpc,
                               Fill fill) {
  ASSIGN_OR_RETURN(hai::v1::TaskRef ref, ParseTaskRef(args.task));
  Request request;
  *request.mutable_task() = ref;
  RETURN_IF_ERROR(fill(request));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  Response response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check((conn->tasks().*rpc)(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response.task());
  } else {
    std::cout << RenderTaskLine(response.task());
  }
  return kExitOk;
}

absl::Status NoFill(const google::protobuf::Message&) { return absl::OkStatus(); }

using Stub = hai::v1::TaskService::Stub;

CLI::App* AddTaskSubcommand(CLI::App& app, CommandSet& set, const std::string& name,
                            const std::string& help, std::shared_ptr<TaskArgs> args) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->add_option("TASK", args->task, "chain id or task name")->required();
  AddJsonFlag(sub, set);
  return sub;
}

}  // namespace

void AddTaskCommands(CLI::App& app, CommandSet& set) {
  {
    auto args = std::make_shared<TaskArgs>();
    AddTaskSubcommand(app, set, "status",
                      "a task with all its attempts: state, tier, nodes/GPUs per rank, exit "
                      "codes, why each attempt ended, why it waits",
                      args)
        ->callback([&set, args] {
          set.action = [&set, args] { return RunStatus(set.globals, *args); };
        });
  }
  {
    auto args = std::make_shared<TaskArgs>();
    AddTaskSubcommand(app, set, "stop", "stop a task (no requeue)", args)
        ->callback([&set, args] {
          set.action = [&set, args] {
            return RunControl<hai::v1::StopRequest, hai::v1::StopResponse>(
                set.globals, *args, &Stub::Stop, NoFill);
          };
        });
  }
  {
    auto args = std::make_shared<TaskArgs>();
    AddTaskSubcommand(app, set, "suspend",
                      "suspend a task: it checkpoints, stops and waits for `resume`", args)
        ->callback([&set, args] {
          set.action = [&set, args] {
            return RunControl<hai::v1::SuspendRequest, hai::v1::SuspendResponse>(
                set.globals, *args, &Stub::Suspend, NoFill);
          };
        });
  }
  {
    auto args = std::make_shared<TaskArgs>();
    AddTaskSubcommand(app, set, "resume", "requeue a suspended task in its old place", args)
        ->callback([&set, args] {
          set.action = [&set, args] {
            return RunControl<hai::v1::ResumeRequest, hai::v1::ResumeResponse>(
                set.globals, *args, &Stub::Resume, NoFill);
          };
        });
  }
  {
    auto args = std::make_shared<TaskArgs>();
    AddTaskSubcommand(app, set, "priority", "change a task's priority tier", args)
        ->add_option("PRIORITY", args->priority,
                     "LOW, BELOW_NORMAL, NORMAL, ABOVE_NORMAL, HIGH, VERY_HIGH, EXTREME_HIGH, "
                     "AUTO or the tier number")
        ->required();
    app.get_subcommand("priority")->callback([&set, args] {
      set.action = [&set, args] {
        return RunControl<hai::v1::SetPriorityRequest, hai::v1::SetPriorityResponse>(
            set.globals, *args, &Stub::SetPriority,
            [&](hai::v1::SetPriorityRequest& request) -> absl::Status {
              absl::StatusOr<std::string> name = NormalizePriority(args->priority);
              if (!name.ok()) return UsageError(name.status().message());
              request.set_priority(PriorityOf(*name));
              return absl::OkStatus();
            });
      };
    });
  }
}

}  // namespace hai::cli
