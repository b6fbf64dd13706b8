// hai-cli's submit command line (cli/submit_args.h): the fuzzer's bytes, split at NUL into
// argv words, go through the same splitting and option parsing as `hai-cli python ...`. Any
// argv parses or is a usage error; what parses keeps the script's arguments verbatim.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "cli/submit_args.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args = absl::StrSplit(bytes, '\0');
  if (args.size() > 64) return 0;  // argv length is not what is under test
  for (const std::string& a : args) {
    (void)hai::cli::ParseTimeLimit(a);
    (void)hai::cli::ParseEnvAssignment(a);
    (void)hai::cli::DefaultTaskName(a);
  }
  absl::StatusOr<hai::cli::SubmitArgs> parsed = hai::cli::ParseSubmitArgs(args);
  if (!parsed.ok()) return 0;
  FUZZ_CHECK(!args.empty() && parsed->script == args[0], "script '%s'", parsed->script.c_str());
  FUZZ_CHECK(parsed->script_args.size() < args.size(), "more script args than words");
  for (size_t i = 0; i < parsed->script_args.size(); ++i) {
    FUZZ_CHECK(parsed->script_args[i] == args[i + 1], "script arg %zu changed", i);
  }
  if (parsed->nodes) FUZZ_CHECK(*parsed->nodes >= 1, "nodes %d", *parsed->nodes);
  FUZZ_CHECK(parsed->time_limit_s >= 0, "time limit %lld",
             static_cast<long long>(parsed->time_limit_s));
  const hai::v1::SubmitRequest req =
      hai::cli::BuildSubmitRequest(*parsed, "python", "/work/train.py", "/work");
  FUZZ_CHECK(req.entrypoint() == "/work/train.py", "entrypoint '%s'", req.entrypoint().c_str());
  return 0;
}
