// Command line of `hai-cli python|bash SCRIPT [script args...] -- [hai options]`: splitting the
// script's arguments from hai's at the `--`, parsing hai's options, resolving the script and
// building the SubmitRequest. Pure (apart from the existence check of the script) and
// unit-tested, because getting `-n` wrong here silently changes someone's training run.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hai/v1/task.pb.h"

namespace hai::cli {

// Help text for hai's options after `--`, shared by `python --help` and `bash --help`.
extern const char kSubmitOptionsHelp[];

struct SubmitArgs {
  std::string script;                     // as typed by the user
  std::vector<std::string> script_args;   // verbatim, even when they look like options
  std::optional<int> nodes;               // -n; unset = server default (1)
  std::string group;                      // -g; "" = server default
  std::string priority;                   // -p, canonical tier name; "" = server default
  std::string image;                      // -i
  std::map<std::string, std::string> env;  // -e K=V (last one wins)
  std::string name;                       // --name; "" = DefaultTaskName(script)
  int gpus_per_node = 0;                  // --gpus; 0 = whole nodes
  int64_t time_limit_s = 0;               // -t; 0 = none
  std::string environment;                // --environment (train_environments row)
  std::optional<int> whole_life_state;    // --life-state
  bool follow = false;                    // -f
  bool json = false;                      // --json (also accepted after `--`)
};

// `args` is everything after the subcommand word: SCRIPT first. The LAST literal `--`
// separates the script's arguments from hai's options, so a script can still be given a `--`
// of its own (`train.py a -- b -- -n 2` passes `a -- b`). Without `--` every argument goes to
// the script. Errors are usage errors (exit 2).
absl::StatusOr<SubmitArgs> ParseSubmitArgs(const std::vector<std::string>& args);

// A time limit as typed after -t: "90m", "2h", "1h30m", "45s", "2d", "1d12h" -> seconds.
// A unit is required (a bare "90" is ambiguous); zero and negative limits are usage errors.
absl::StatusOr<int64_t> ParseTimeLimit(absl::string_view text);

// "K=V" -> {K, V}; V may contain '=' and be empty; K must be a valid environment name.
absl::StatusOr<std::pair<std::string, std::string>> ParseEnvAssignment(absl::string_view text);

// The absolute, lexically normalised path of `script` relative to `cwd`; a usage error
// "no such file: SCRIPT" when it does not exist, "not a regular file: SCRIPT" for directories.
absl::StatusOr<std::filesystem::path> ResolveScript(absl::string_view script,
                                                    const std::filesystem::path& cwd);

// Basename without its last extension: "dir/train.py" -> "train".
std::string DefaultTaskName(absl::string_view script);

// The request for `kind` ("python" or "bash") with the resolved script and the client's cwd
// as workdir.
hai::v1::SubmitRequest BuildSubmitRequest(const SubmitArgs& args, absl::string_view kind,
                                          const std::filesystem::path& script_path,
                                          const std::filesystem::path& cwd);

}  // namespace hai::cli
