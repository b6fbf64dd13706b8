// Runs an external command (no shell) and collects its output, with a deadline: the one way
// hai talks to command-line tools such as Slurm's sbatch/squeue/scancel (common/slurm/).
// Arguments are passed as a vector straight to execve, so nothing in them is ever parsed by
// a shell; secrets belong in files or stdin, never in argv (argv is world-readable in /proc).
// Errors are typed: NotFound (the program does not exist), DeadlineExceeded (it ran past the
// timeout and was SIGKILLed with its process group), ResourceExhausted (output past the
// limit), Internal (pipe/spawn failures). A non-zero exit is not an error here: the caller
// decides what an exit code means.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hai {

struct CommandOptions {
  absl::Duration timeout = absl::Seconds(10);
  // The complete environment ("K=V"); the command gets nothing else.
  std::vector<std::string> env;
  std::string stdin_data;              // written to the command's stdin, then closed
  size_t max_output_bytes = 16 << 20;  // stdout and stderr each
};

struct CommandResult {
  int exit_code = 0;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH of `options.env` when it has no '/').
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options);

}  // namespace hai
