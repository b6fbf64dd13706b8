// Parsing of submit command lines; see submit_args.h.
#include "cli/submit_args.h"

#include <algorithm>
#include <system_error>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/exit_codes.h"
#include "cli/format.h"

namespace hai::cli {

const char kSubmitOptionsHelp[] =
    "hai options (after `--`):\n"
    "  -n, --nodes N        nodes (one rank per node; default 1)\n"
    "  -g, --group GROUP    node group (default: the server's)\n"
    "  -p, --priority P     LOW, BELOW_NORMAL, NORMAL, ABOVE_NORMAL, HIGH, VERY_HIGH,\n"
    "                       EXTREME_HIGH, AUTO, or the tier number (default: the server's)\n"
    "  -i, --image IMAGE    container image (kubernetes runtime)\n"
    "  -e, --env K=V        extra environment for every rank (repeatable)\n"
    "      --name NAME      task name (default: script file name without extension)\n"
    "      --gpus N         GPUs on a single node instead of the whole node\n"
    "  -t, --time-limit T   how long one run takes at most, e.g. 90m, 2h, 1d12h: the\n"
    "                       scheduler may start it earlier on nodes held for a bigger task;\n"
    "                       past it the task is suspended (not killed) when they are needed\n"
    "      --environment E  train environment name\n"
    "      --life-state N   initial whole_life_state\n"
    "  -f, --follow         stream the logs until the task ends; exit with its code\n"
    "      --json           print the submitted task as JSON\n"
    "Everything between SCRIPT and the last `--` goes to the script verbatim, e.g.\n"
    "  hai-cli python train.py --lr 0.1 -n 3 -- -n 4 -p HIGH\n"
    "runs `train.py --lr 0.1 -n 3` on 4 nodes at HIGH.";

namespace {

bool IsEnvNameChar(char c, bool first) {
  return c == '_' || absl::ascii_isalpha(static_cast<unsigned char>(c)) ||
         (!first && absl::ascii_isdigit(static_cast<unsigned char>(c)));
}

// Parses hai's options with a throw-away CLI11 parser so that every usual spelling works
// (-n4, --nodes=4, -fn 4); CLI11's exceptions stop here and become usage errors.
absl::Status ParseHaiOptions(std::vector<std::string> options, SubmitArgs& out) {
  CLI::App app("hai options", "hai-cli");
  app.set_help_flag();  // `--help` belongs before SCRIPT; after `--` it is a mistake
  int nodes = 0;
  std::string priority;
  std::vector<std::string> env;
  int life_state = 0;
  std::string time_limit;
  CLI::Option* limit_opt = app.add_option("-t,--time-limit", time_limit)->take_last();
  CLI::Option* nodes_opt = app.add_option("-n,--nodes", nodes)->take_last();
  app.add_option("-g,--group", out.group)->take_last();
  CLI::Option* priority_opt = app.add_option("-p,--priority", priority)->take_last();
  app.add_option("-i,--image", out.image)->take_last();
  app.add_option("-e,--env", env)->allow_extra_args(false);
  app.add_option("--name", out.name)->take_last();
  app.add_option("--gpus", out.gpus_per_node)->check(CLI::NonNegativeNumber)->take_last();
  app.add_option("--environment", out.environment)->take_last();
  CLI::Option* life_opt = app.add_option("--life-state", life_state)->take_last();
  app.add_flag("-f,--follow", out.follow);
  app.add_flag("--json", out.json);
  std::reverse(options.begin(), options.end());  // CLI11 consumes from the back
  try {
    app.parse(options);
  } catch (const CLI::ParseError& e) {
    return UsageError(absl::StrCat("bad hai option after `--`: ", e.what()));
  }
  if (nodes_opt->count() > 0) {
    // Checked here rather than by CLI11 so the message reads like the server's.
    if (nodes < 1) return UsageError(absl::StrCat("nodes must be at least 1 (got ", nodes, ")"));
    out.nodes = nodes;
  }
  if (life_opt->count() > 0) out.whole_life_state = life_state;
  if (limit_opt->count() > 0) {
    absl::StatusOr<int64_t> seconds = ParseTimeLimit(time_limit);
    if (!seconds.ok()) return seconds.status();
    out.time_limit_s = *seconds;
  }
  if (priority_opt->count() > 0) {
    absl::StatusOr<std::string> name = NormalizePriority(priority);
    if (!name.ok()) return UsageError(name.status().message());
    out.priority = *std::move(name);
  }
  for (const std::string& e : env) {
    absl::StatusOr<std::pair<std::string, std::string>> kv = ParseEnvAssignment(e);
    if (!kv.ok()) return kv.status();
    out.env[kv->first] = kv->second;
  }
  if (out.gpus_per_node > 0 && out.nodes.value_or(1) > 1) {
    return UsageError("--gpus is only valid for single-node tasks (-n 1)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> ParseTimeLimit(absl::string_view text) {
  const std::string bad =
      absl::StrCat("bad -t '", text, "': expected a duration with units, e.g. 90m, 2h or 1d12h");
  absl::string_view rest = text;
  int64_t days = 0;
  if (const size_t d = rest.find('d'); d != absl::string_view::npos) {
    if (!absl::SimpleAtoi(rest.substr(0, d), &days) || days < 0 || days > 366) {
      return UsageError(bad);
    }
    rest.remove_prefix(d + 1);
  }
  absl::Duration more = absl::ZeroDuration();
  if (!rest.empty() && !absl::ParseDuration(rest, &more)) return UsageError(bad);
  if (rest.empty() && days == 0) return UsageError(bad);
  if (!rest.empty() && absl::ascii_isdigit(static_cast<unsigned char>(rest.back()))) {
    return UsageError(bad);  // "90": absl reads a bare 0 only, but say why for any number
  }
  // absl reads "inf" and hours by the billion; bounded first, the sum below cannot overflow
  // (found by fuzz/cli_args_fuzz.cc: "1dinf" overflowed int64). The server refuses more than
  // 366 days too (scheduler/api/submit_validation.h, kMaxTimeLimitS).
  constexpr int64_t kMaxDays = 366;
  const std::string too_long = absl::StrCat("bad -t '", text, "': at most ", kMaxDays, "d");
  if (more > absl::Hours(24 * kMaxDays)) return UsageError(too_long);
  const int64_t seconds = days * 86400 + absl::ToInt64Seconds(more);
  if (seconds <= 0) return UsageError(absl::StrCat("bad -t '", text, "': must be positive"));
  if (seconds > kMaxDays * 86400) return UsageError(too_long);
  return seconds;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseEnvAssignment(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return UsageError(absl::StrCat("bad -e '", text, "': expected K=V"));
  }
  const absl::string_view key = text.substr(0, eq);
  bool valid = !key.empty();
  for (size_t i = 0; valid && i < key.size(); ++i) valid = IsEnvNameChar(key[i], i == 0);
  if (!valid) {
    return UsageError(absl::StrCat("bad -e '", text,
                                   "': the name must be letters, digits and '_', "
                                   "not starting with a digit"));
  }
  return std::make_pair(std::string(key), std::string(text.substr(eq + 1)));
}

absl::StatusOr<SubmitArgs> ParseSubmitArgs(const std::vector<std::string>& args) {
  if (args.empty() || args.front() == "--") {
    return UsageError("missing SCRIPT (usage: hai-cli python SCRIPT [args...] -- [options])");
  }
  if (absl::StartsWith(args.front(), "-")) {
    return UsageError(absl::StrCat("unknown option '", args.front(),
                                   "' before SCRIPT; hai's options go after `--`"));
  }
  SubmitArgs out;
  out.script = args.front();
  // Search from the back and stop before SCRIPT; no `--` -> every argument is the script's.
  size_t sep = args.size();
  for (size_t i = args.size() - 1; i >= 1; --i) {
    if (args[i] == "--") {
      sep = i;
      break;
    }
  }
  out.script_args.assign(args.begin() + 1, args.begin() + static_cast<long>(sep));
  if (sep < args.size()) {
    std::vector<std::string> options(args.begin() + static_cast<long>(sep) + 1, args.end());
    absl::Status status = ParseHaiOptions(std::move(options), out);
    if (!status.ok()) return status;
  }
  return out;
}

absl::StatusOr<std::filesystem::path> ResolveScript(absl::string_view script,
                                                    const std::filesystem::path& cwd) {
  const std::filesystem::path typed{std::string(script)};
  const std::filesystem::path path = (typed.is_absolute() ? typed : cwd / typed).lexically_normal();
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return UsageError(absl::StrCat("no such file: ", script));
  }
  if (!std::filesystem::is_regular_file(st)) {
    return UsageError(absl::StrCat("not a regular file: ", script));
  }
  return path;
}

std::string DefaultTaskName(absl::string_view script) {
  return std::filesystem::path(std::string(script)).stem().string();
}

hai::v1::SubmitRequest BuildSubmitRequest(const SubmitArgs& args, absl::string_view kind,
                                          const std::filesystem::path& script_path,
                                          const std::filesystem::path& cwd) {
  hai::v1::SubmitRequest req;
  req.set_name(args.name.empty() ? DefaultTaskName(args.script) : args.name);
  req.set_entrypoint(script_path.string());
  for (const std::string& a : args.script_args) req.add_args(a);
  req.set_workdir(cwd.string());
  req.set_nodes(args.nodes.value_or(1));
  req.set_group(args.group);
  if (!args.priority.empty()) req.set_priority(PriorityOf(args.priority));
  for (const auto& [k, v] : args.env) (*req.mutable_env())[k] = v;
  req.set_gpus_per_node(args.gpus_per_node);
  req.set_time_limit_s(args.time_limit_s);
  req.set_kind(std::string(kind));
  req.set_image(args.image);
  req.set_whole_life_state(args.whole_life_state.value_or(0));
  req.set_environment(args.environment);
  return req;
}

}  // namespace hai::cli
