// SlurmCli: hai's client of a Slurm cluster through Slurm's own commands (sbatch, squeue,
// sinfo, scancel, scontrol) with machine-readable output, each run without a shell and with
// a timeout (common/command.h). The manager's Slurm runtime submits, polls and signals its
// ranks through it; haid's node sync (scheduler/slurm/) reads the nodes.
// Errors are typed: Unavailable (slurmctld cannot be reached: try again later; never a sign
// that a job is gone), DeadlineExceeded (the command hung), NotFound (the command is not
// installed, or a job id Slurm does not know), InvalidArgument (Slurm refused a submission:
// bad node, GRES, partition, account or user), DataLoss (output hai cannot parse), Internal
// (anything else, with Slurm's message).
// Methods are virtual so tests of the runtime's rules can replace the cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/slurm/slurm_state.h"

namespace hai::slurm {

struct CliOptions {
  std::string bin_dir;     // where sbatch & co. are; "" = PATH
  std::string slurm_conf;  // SLURM_CONF for the commands; "" = Slurm's default
  absl::Duration timeout = absl::Seconds(20);
};

class SlurmCli {
 public:
  explicit SlurmCli(CliOptions options) : opt_(std::move(options)) {}
  virtual ~SlurmCli() = default;

  // `sbatch --parsable <args>` with `script` on stdin; the job id.
  virtual absl::StatusOr<int64_t> Submit(const std::vector<std::string>& args,
                                         const std::string& script);
  // Jobs by name, in every state Slurm still remembers (MinJobAge after they end).
  virtual absl::StatusOr<std::vector<JobRow>> JobsByName(const std::vector<std::string>& names);
  // One job by id; NotFound when Slurm no longer knows it.
  virtual absl::StatusOr<JobRow> Job(int64_t id);
  // Nodes by name (every node when `names` is empty).
  virtual absl::StatusOr<std::vector<NodeRow>> Nodes(const std::vector<std::string>& names);
  // `scancel --batch --signal=<sig> <id>`: the batch script (hai's rank supervisor) only; it
  // forwards the signal to the task. A job that already ended is not an error.
  virtual absl::Status SignalBatch(int64_t id, const std::string& signal);
  // `scancel --full --signal=KILL <id>` then `scancel <id>`: every process of the job, then
  // the job itself (also when still pending). A job that already ended is not an error.
  virtual absl::Status Kill(int64_t id);
  // The exit code Slurm recorded (`scontrol show job -o`); nullopt when it has none.
  virtual absl::StatusOr<std::optional<int>> ExitCode(int64_t id);

 private:
  struct Output {
    int exit_code = 0;
    std::string out;
    std::string err;
  };
  absl::StatusOr<Output> Run(const std::string& command, std::vector<std::string> args,
                             const std::string& stdin_data = "");
  // The typed error of a failed command.
  absl::Status Failure(const std::string& command, const Output& o) const;

  CliOptions opt_;
};

}  // namespace hai::slurm
