// Slurm's job and node states as hai reads them, and the parsers of the machine-readable
// output of sbatch/squeue/sinfo/scontrol that hai asks for (slurm_cli.h). Pure functions, no
// I/O: unit-tested against captured output (test/unit/slurm/). The state names are Slurm's
// own (`enum job_states` and the node state strings of src/common/slurm_protocol_defs.c).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hai::slurm {

enum class JobState {
  kPending,
  kConfiguring,  // nodes booting/being set up: allocated, not running the script yet
  kRunning,
  kSuspended,   // suspended by Slurm (an admin's `scontrol suspend`): its processes exist
  kCompleting,  // ended; Slurm still cleans up (processes may remain)
  kCompleted,
  kCancelled,
  kFailed,
  kTimeout,
  kNodeFail,
  kPreempted,
  kBootFail,
  kDeadline,
  kOutOfMemory,
  kRequeued,  // Slurm requeued it (hai submits --no-requeue; an admin's doing)
  kOther,     // any other state Slurm may report (signaling, resizing, held, ...)
};

// "RUNNING" -> kRunning ...; unknown names -> kOther.
JobState ParseJobState(absl::string_view name);
// No process of the job is left (the job reached a final state).
bool IsJobFinished(JobState s);
// The batch script has been started on the node.
bool IsJobStarted(JobState s);
// Ended by the node or by Slurm itself, not by the job's own command: the rank is lost.
bool IsNodeLoss(JobState s);

// squeue -h --states=all -o "%i|%j|%T|%N|%r" (the reason last: it is free text).
struct JobRow {
  int64_t id = 0;
  std::string name;
  JobState state = JobState::kOther;
  std::string state_name;  // as Slurm wrote it
  std::string node;        // "" while pending
  std::string reason;      // "" for None
};
inline constexpr char kJobFormat[] = "%i|%j|%T|%N|%r";
absl::StatusOr<std::vector<JobRow>> ParseJobRows(absl::string_view out);

enum class NodeHealth {
  kUp,     // usable (idle, allocated, mixed, ...)
  kDrain,  // draining or drained: no new work; hai's ranks there are requeued
  kDown,   // down, failing or not responding
};
// sinfo's long state ("idle", "draining", "down*", "mixed+drain", ...).
NodeHealth ParseNodeState(absl::string_view state);
absl::string_view Name(NodeHealth h);

// sinfo -h -N -O "NodeList:|,StateLong:|,NodeAddr:|,Gres:|,GresUsed:|,Reason:" (reason last).
struct NodeRow {
  std::string name;
  std::string state;  // as Slurm wrote it
  NodeHealth health = NodeHealth::kUp;
  std::string addr;
  int gpus = 0;       // GRES gpu count configured
  int gpus_used = 0;  // GRES gpu count allocated (hai's jobs and everybody else's)
  std::string reason;
};
inline constexpr char kNodeFormat[] = "NodeList:|,StateLong:|,NodeAddr:|,Gres:|,GresUsed:|,Reason:";
absl::StatusOr<std::vector<NodeRow>> ParseNodeRows(absl::string_view out);

// The gpu count of a GRES string: "gpu:2", "gpu:a100:4(S:0-1)", "gpu:tesla:2(IDX:0-1),mps:100",
// "(null)" -> 0.
int GpuCount(absl::string_view gres);

// `sbatch --parsable`: "<id>" or "<id>;<cluster>".
absl::StatusOr<int64_t> ParseSubmitOutput(absl::string_view out);

// The exit code of `scontrol show job -o <id>` ("ExitCode=2:0" -> 2; "0:9" -> 128+9).
std::optional<int> ParseExitCode(absl::string_view scontrol_line);

}  // namespace hai::slurm
