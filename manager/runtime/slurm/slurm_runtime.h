// SlurmPodRuntime: runs each rank as one Slurm batch job (docs/slurm.md).
//   Start   submits `sbatch --nodelist=<node> --gres=gpu:<n> --export-file=<env>` whose batch
//           script execs hai's rank supervisor (`hai-manager --rank-supervisor`, the local
//           runtime's) on the node: it writes the task's output into the rank log and its
//           exit status into the rank's exit file, both on the shared data_dir. The job runs
//           as the task's user (`--uid/--gid` when the manager is root); the environment,
//           token included, travels in a 0600 file read by sbatch and removed right after,
//           never in argv. A job named <prefix>-<attempt>-<rank> that exists already (started
//           by a manager that died before recording it) is adopted, never submitted twice.
//   Adopt   checks that the Slurm job id from pods.pid is still this rank's job.
//   Poll    one squeue (the attempt's jobs) and one sinfo (their nodes) per poll interval,
//           mapped by rank_state.h: the exit file is the task's exit code; a job that ended
//           NODE_FAIL/BOOT_FAIL/PREEMPTED/REQUEUED or was cancelled outside hai, or runs on a
//           node Slurm marks DOWN or DRAIN, is a lost rank (the attempt is requeued).
//   Signal  kTerminate: `scancel --batch --signal=TERM` (the supervisor forwards it to the
//           task, as on the local runtime); kKill: `scancel --full --signal=KILL`, `scancel`.
//   Release cancels any job of the attempt still known to Slurm.
// No threads: the lifecycle's loop calls it; a Slurm command that fails (slurmctld down) makes
// Poll return the error, which the lifecycle logs and retries: "cannot tell" is never "gone".
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/slurm/slurm_cli.h"
#include "manager/runtime/pod_runtime.h"
#include "manager/runtime/slurm/rank_state.h"

namespace hai::manager::slurm_rt {

struct SlurmRuntimeOptions {
  std::string supervisor_binary;  // hai-manager as the nodes see it
  std::string job_name_prefix = "hai";
  std::string partition, account, qos;
  std::vector<std::string> extra_sbatch_args;
  // Submit as the rank's user (sbatch --uid/--gid): the manager is root. Otherwise the jobs
  // are the manager's user's.
  bool run_as_users = false;
  // A Poll reuses the cluster's state read this recently (one squeue + one sinfo per round
  // of the attempt's ranks, not per rank).
  absl::Duration poll_interval = absl::Milliseconds(200);
};

// The job name of a rank; the runtime finds its jobs by it.
std::string JobName(const std::string& prefix, int64_t attempt_id, int rank);

// The sbatch arguments and batch script of a rank (pure; unit-tested). `rank_dir` is the
// rank's own directory (its exit file, the job's output), `env_file` the environment file.
struct Submission {
  std::vector<std::string> args;
  std::string script;
};
absl::StatusOr<Submission> BuildSubmission(const SlurmRuntimeOptions& opt, const PodSpec& spec,
                                           int64_t attempt_id, const std::string& rank_dir,
                                           const std::string& env_file);

// The rank's own directory under the run directory, and its exit file.
std::string RankDir(const PodSpec& spec);
std::string RankExitPath(const std::string& rank_dir);

class SlurmPodRuntime : public PodRuntime {
 public:
  SlurmPodRuntime(std::unique_ptr<hai::slurm::SlurmCli> cli, int64_t attempt_id,
                  SlurmRuntimeOptions options);

  absl::StatusOr<int64_t> Start(const PodSpec& spec) override;
  absl::Status Adopt(int rank, int64_t id, const PodSpec& spec) override;
  absl::StatusOr<PodStatus> Poll(int rank) override;
  absl::Status Signal(int rank, PodSignal signal) override;
  std::string ServiceHost() override;
  absl::Status Release() override;

 private:
  struct Rank {
    int64_t job_id = 0;
    std::string name;
    std::string node;
    std::string rank_dir;
    std::optional<int> slurm_exit_code;  // asked once, for a job that ended without exit file
  };
  // Re-reads the attempt's jobs and nodes unless read within poll_interval.
  absl::Status Refresh(bool force);
  // Creates the rank directory and log file owned by the rank's user.
  absl::Status PrepareFiles(const PodSpec& spec, const std::string& rank_dir);
  // The environment the job gets: the pod's, with MASTER_ADDR the master node's address and
  // no CUDA_VISIBLE_DEVICES (Slurm sets it for the GPUs it binds).
  std::vector<std::string> JobEnvironment(const PodSpec& spec);

  std::unique_ptr<hai::slurm::SlurmCli> cli_;
  const int64_t attempt_id_;
  const SlurmRuntimeOptions opt_;
  std::map<int, Rank> ranks_;
  std::map<std::string, hai::slurm::JobRow> jobs_;    // by job name, from the last Refresh
  std::map<std::string, hai::slurm::NodeRow> nodes_;  // by node name
  absl::Time refreshed_ = absl::InfinitePast();
  std::string service_node_;  // rank 0's node, for ServiceHost
};

}  // namespace hai::manager::slurm_rt
