// `hai-cli logs TASK [-f] [-r RANK] [--attempt N]` and the log streaming behind `python -f`.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "cli/render.h"
#include "cli/task_ref.h"
#include "common/status_macros.h"

namespace hai::cli {
namespace {

struct LogsArgs {
  std::string task;
  LogsOptions options;
};

absl::StatusOr<int> RunLogs(const GlobalOptions& globals, const LogsArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  // Fetch the task first: it resolves a name to the chain id once, and its size says whether
  // lines need a rank prefix.
  ASSIGN_OR_RETURN(hai::v1::Task task, GetTask(*conn, args.task));
  return StreamTaskLogs(*conn, task, args.options, globals.json);
}

}  // namespace

absl::StatusOr<int> StreamTaskLogs(Connection& conn, const hai::v1::Task& task,
                                   const LogsOptions& options, bool json) {
  hai::v1::StreamLogsRequest request;
  request.mutable_task()->set_chain_id(task.chain_id());
  request.set_rank(options.rank);
  request.set_follow(options.follow);
  request.set_attempt_no(options.attempt);
  // No deadline: a followed task may run for days, and a log of any size comes in chunks
  // that may take longer than one call's deadline to read (GetTask just checked that haid
  // answers).
  const auto ctx = conn.NewContext(/*deadline=*/false);
  auto reader = conn.tasks().StreamLogs(ctx.get(), request);

  const bool prefix_ranks = options.rank < 0 && task.nodes() > 1;
  const bool many_attempts = options.attempt < 0 && task.attempts_size() > 1;
  int last_attempt = -1;
  std::optional<int> final_code;
  hai::v1::LogChunk chunk;
  while (reader->Read(&chunk)) {
    if (json) {
      PrintJson(chunk);
    } else if (!chunk.text().empty()) {
      // Headers like tail's, only when the stream really spans several attempts.
      if (chunk.attempt_no() != last_attempt && (many_attempts || last_attempt >= 0)) {
        std::cout << "==> attempt " << chunk.attempt_no() << " <==\n";
      }
      last_attempt = chunk.attempt_no();
      std::cout << (prefix_ranks ? PrefixLines(chunk.text(), absl::StrCat("[rank ", chunk.rank(), "] "))
                                 : chunk.text());
      std::cout.flush();  // a follower wants each line as it comes, also through a pipe
    }
    if (chunk.finished()) {
      final_code = ExitCodeForFinalState(chunk.final_state(), chunk.exit_code());
    }
  }
  const grpc::Status status = reader->Finish();
  if (final_code.has_value()) return *final_code;
  RETURN_IF_ERROR(conn.Check(status));
  if (!options.follow) return kExitOk;

  // The stream closed without its final chunk (e.g. haid restarted): ask for the state
  // instead of guessing, so scripts still get the task's outcome when it is known.
  hai::v1::GetRequest get;
  get.mutable_task()->set_chain_id(task.chain_id());
  hai::v1::GetResponse got;
  const auto get_ctx = conn.NewContext();
  RETURN_IF_ERROR(conn.Check(conn.tasks().Get(get_ctx.get(), get, &got)));
  if (IsFinished(got.task().state())) {
    return ExitCodeForFinalState(got.task().state(), got.task().exit_code());
  }
  return absl::UnavailableError(absl::StrCat("log stream from haid at ", conn.url(),
                                             " ended before the task finished (state ",
                                             StateText(got.task().state()), ")"));
}

void AddLogsCommand(CLI::App& app, CommandSet& set) {
  auto args = std::make_shared<LogsArgs>();
  CLI::App* sub = app.add_subcommand("logs", "print a task's logs; -f follows until it ends");
  sub->add_option("TASK", args->task, "chain id or task name")->required();
  sub->add_flag("-f,--follow", args->options.follow,
                "keep streaming until the task ends; exit with its code "
                "(0 succeeded, its exit code when failed, 130 stopped)");
  sub->add_option("-r,--rank", args->options.rank, "only this rank (default: all)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--attempt", args->options.attempt, "only this attempt (default: all)")
      ->check(CLI::NonNegativeNumber);
  AddJsonFlag(sub, set);
  sub->callback([&set, args] { set.action = [&set, args] { return RunLogs(set.globals, *args); }; });
}

}  // namespace hai::cli
