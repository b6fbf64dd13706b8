// `hai-cli jupyter create|list|url|stop`: Jupyter dev containers through JupyterService
// (docs/jupyter.md). `create` waits until the server answers and prints its URL, so the next
// thing a user does (open it) works; `--no-wait` returns as soon as it is queued.
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "cli/render.h"
#include "cli/task_ref.h"
#include "common/status_macros.h"
#include "hai/v1/jupyter.pb.h"

namespace hai::cli {
namespace {

struct CreateArgs {
  std::string name;
  std::string group;
  double cpu = 0;     // cores; 0 = server default
  double memory = 0;  // GiB; 0 = server default
  int gpus = 0;
  std::string image;
  bool keep_alive = false;
  bool no_wait = false;
  double wait_seconds = 120;
};

struct ListArgs {
  bool finished = false;
  bool all = false;
};

struct RefArgs {
  std::string container;
  bool wait = false;  // stop: until the container has ended
  double wait_seconds = 60;
};

absl::StatusOr<hai::v1::JupyterRef> ParseRef(const std::string& text) {
  ASSIGN_OR_RETURN(hai::v1::TaskRef task, ParseTaskRef(text));
  hai::v1::JupyterRef ref;
  ref.set_chain_id(task.chain_id());
  ref.set_name(task.name());
  return ref;
}

std::string RenderContainers(const hai::v1::JupyterListResponse& list, absl::Time now) {
  Table table({"ID", "NAME", "STATE", "GROUP", "NODE", "CPU", "MEMORY", "GPUS", "IDLE",
               "CULL AFTER", "URL / REASON"});
  for (const hai::v1::JupyterContainer& c : list.containers()) {
    std::string gpus = absl::StrCat(c.gpus());
    if (c.gpu_indices_size() > 0) {
      absl::StrAppend(&gpus, " (", FormatGpuList({c.gpu_indices().begin(), c.gpu_indices().end()}),
                      ")");
    }
    std::string cull = c.keep_alive()            ? "keep-alive"
                       : c.idle_timeout_s() == 0 ? "never"
                                                 : HumanDuration(absl::Seconds(c.idle_timeout_s()));
    std::string where = c.ready() ? c.url() : c.pending_reason();
    if (where.empty()) where = c.end_reason().empty() ? "-" : c.end_reason();
    const bool running = c.state() == hai::v1::Task::RUNNING;
    if (!c.ready() && running) where = "starting";
    const std::string idle = running ? FormatAge(FromProtoTime(c.last_activity_at()), now) : "-";
    table.AddRow({absl::StrCat(c.chain_id()), c.name(), StateText(c.state()), c.group(),
                  c.node().empty() ? "-" : c.node(), CoresText(c.cpu_millis()),
                  GiBText(c.memory_mib()), gpus, idle, cull, where});
  }
  std::string out = list.containers().empty() ? "no containers\n" : table.Render();
  return out + "\n" + RenderJupyterQuota(list.quota());
}

// The container `chain_id` of the caller as List shows it (an error reply carries no body, so
// a failed Url call does not say what the container is doing).
absl::StatusOr<hai::v1::JupyterContainer> FindContainer(Connection& conn, int64_t chain_id) {
  hai::v1::JupyterListRequest request;
  request.set_include_finished(true);
  hai::v1::JupyterListResponse list;
  const auto ctx = conn.NewContext();
  RETURN_IF_ERROR(conn.Check(conn.jupyter().List(ctx.get(), request, &list)));
  for (const hai::v1::JupyterContainer& c : list.containers()) {
    if (c.chain_id() == chain_id) return c;
  }
  return absl::NotFoundError(absl::StrCat("container ", chain_id, " is gone"));
}

// Polls Url until the server answers, the container ends, or the deadline passes.
absl::StatusOr<hai::v1::JupyterUrlResponse> WaitForUrl(Connection& conn, int64_t chain_id,
                                                       absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  hai::v1::JupyterUrlRequest request;
  request.mutable_ref()->set_chain_id(chain_id);
  while (true) {
    hai::v1::JupyterUrlResponse response;
    {
      const auto ctx = conn.NewContext();
      absl::Status s = conn.Check(conn.jupyter().Url(ctx.get(), request, &response));
      if (s.ok()) return response;
      if (!absl::IsFailedPrecondition(s)) return s;
    }
    ASSIGN_OR_RETURN(hai::v1::JupyterContainer c, FindContainer(conn, chain_id));
    // Both below exit 1 (not 5 or 6): haid accepted the container; it did not come up.
    if (IsFinished(c.state())) {
      return absl::AbortedError(absl::StrCat("container ", c.name(), " ended (",
                                             StateText(c.state()), "): ", c.end_reason()));
    }
    if (absl::Now() >= deadline) {
      return absl::AbortedError(absl::StrCat(
          "container ", c.name(), " is ", StateText(c.state()), " but not serving after ",
          absl::FormatDuration(wait), "; check later with `hai-cli jupyter url ", c.name(), "`",
          c.pending_detail().empty() ? "" : absl::StrCat(" (", c.pending_detail(), ")")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

absl::StatusOr<int> RunCreate(const GlobalOptions& globals, const CreateArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  hai::v1::JupyterCreateRequest request;
  request.set_name(args.name);
  request.set_group(args.group);
  request.set_cpu_millis(static_cast<int64_t>(std::llround(args.cpu * 1000)));
  request.set_memory_mib(static_cast<int64_t>(std::llround(args.memory * 1024)));
  request.set_gpus(args.gpus);
  request.set_image(args.image);
  request.set_keep_alive(args.keep_alive);
  hai::v1::JupyterCreateResponse created;
  {
    const auto ctx = conn->NewContext();
    RETURN_IF_ERROR(conn->Check(conn->jupyter().Create(ctx.get(), request, &created)));
  }
  const hai::v1::JupyterContainer& c = created.container();
  if (args.no_wait) {
    if (globals.json) {
      PrintJson(created);
    } else {
      std::cout << "created container " << c.name() << " (id " << c.chain_id() << ", "
                << StateText(c.state()) << "); `hai-cli jupyter url " << c.name()
                << "` prints its URL once it serves\n";
    }
    return kExitOk;
  }
  ASSIGN_OR_RETURN(hai::v1::JupyterUrlResponse url,
                   WaitForUrl(*conn, c.chain_id(), absl::Seconds(args.wait_seconds)));
  if (globals.json) {
    PrintJson(url);
  } else {
    std::cout << "container " << c.name() << " (id " << c.chain_id() << ") serves on "
              << url.container().node() << ":\n"
              << url.url() << "\n";
  }
  return kExitOk;
}

absl::StatusOr<int> RunList(const GlobalOptions& globals, const ListArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  hai::v1::JupyterListRequest request;
  request.set_include_finished(args.finished);
  request.set_all_users(args.all);
  hai::v1::JupyterListResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check(conn->jupyter().List(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << RenderContainers(response, absl::Now());
  }
  return kExitOk;
}

absl::StatusOr<int> RunUrl(const GlobalOptions& globals, const RefArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  ASSIGN_OR_RETURN(hai::v1::JupyterRef ref, ParseRef(args.container));
  hai::v1::JupyterUrlRequest request;
  *request.mutable_ref() = ref;
  hai::v1::JupyterUrlResponse response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check(conn->jupyter().Url(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << response.url() << "\n";
  }
  return kExitOk;
}

absl::StatusOr<int> RunStop(const GlobalOptions& globals, const RefArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  ASSIGN_OR_RETURN(hai::v1::JupyterRef ref, ParseRef(args.container));
  hai::v1::JupyterStopRequest request;
  *request.mutable_ref() = ref;
  hai::v1::JupyterStopResponse response;
  {
    const auto ctx = conn->NewContext();
    RETURN_IF_ERROR(conn->Check(conn->jupyter().Stop(ctx.get(), request, &response)));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(args.wait_seconds);
  while (args.wait && !IsFinished(response.container().state())) {
    if (absl::Now() >= deadline) {
      return absl::AbortedError(
          absl::StrCat("container ", response.container().name(), " is still ",
                       StateText(response.container().state()), " after ",
                       absl::FormatDuration(absl::Seconds(args.wait_seconds))));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSIGN_OR_RETURN(*response.mutable_container(),
                     FindContainer(*conn, response.container().chain_id()));
  }
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << "container " << response.container().name() << " (id "
              << response.container().chain_id() << "): " << StateText(response.container().state())
              << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddJupyterCommands(CLI::App& app, CommandSet& set) {
  CLI::App* jupyter = app.add_subcommand(
      "jupyter", "Jupyter dev containers on jupyter node groups (never preempted by training)");
  jupyter->require_subcommand(1);
  {
    auto args = std::make_shared<CreateArgs>();
    CLI::App* sub = jupyter->add_subcommand(
        "create", "start a Jupyter server in your workspace; prints its URL when it serves");
    sub->add_option("--name", args->name, "container name (default notebook)");
    sub->add_option("-g,--group", args->group, "jupyter node group (default from haid config)");
    sub->add_option("--cpu", args->cpu, "CPU cores (default from haid config)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--memory", args->memory, "memory in GiB (default from haid config)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--gpus", args->gpus, "GPUs")->check(CLI::NonNegativeNumber);
    sub->add_option("-i,--image", args->image, "container image (kubernetes runtime)");
    sub->add_flag("--keep-alive", args->keep_alive,
                  "never cull when idle (counts against your keep_alive quota)");
    sub->add_flag("--no-wait", args->no_wait, "return once created, before it serves");
    sub->add_option("--wait-timeout", args->wait_seconds, "seconds to wait for the server")
        ->check(CLI::PositiveNumber);
    AddJsonFlag(sub, set);
    sub->callback(
        [&set, args] { set.action = [&set, args] { return RunCreate(set.globals, *args); }; });
  }
  {
    auto args = std::make_shared<ListArgs>();
    CLI::App* sub = jupyter->add_subcommand("list", "your containers (a table)");
    sub->add_flag("--finished", args->finished, "include ended containers");
    sub->add_flag("-a,--all", args->all, "every user's containers (admins)");
    AddJsonFlag(sub, set);
    sub->callback(
        [&set, args] { set.action = [&set, args] { return RunList(set.globals, *args); }; });
  }
  {
    auto args = std::make_shared<RefArgs>();
    CLI::App* sub = jupyter->add_subcommand("url", "the URL (with your token) of a container");
    sub->add_option("CONTAINER", args->container, "container name or id")->required();
    AddJsonFlag(sub, set);
    sub->callback(
        [&set, args] { set.action = [&set, args] { return RunUrl(set.globals, *args); }; });
  }
  {
    auto args = std::make_shared<RefArgs>();
    CLI::App* sub =
        jupyter->add_subcommand("stop", "stop a container (its workspace stays for the next one)");
    sub->add_option("CONTAINER", args->container, "container name or id")->required();
    sub->add_flag("-w,--wait", args->wait, "wait until it has ended");
    AddJsonFlag(sub, set);
    sub->callback(
        [&set, args] { set.action = [&set, args] { return RunStop(set.globals, *args); }; });
  }
}

}  // namespace hai::cli
