// How a Slurm rank's facts map to the PodStatus the lifecycle decides on. Pure, so every
// mapping (exit file, job states, node DOWN/DRAIN) is unit-tested without a cluster
// (test/unit/slurm/rank_state_test.cc); SlurmPodRuntime::Poll gathers the facts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/slurm/slurm_state.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::manager::slurm_rt {

struct RankFacts {
  int64_t job_id = 0;
  std::string node;                             // the node hai pinned the rank to
  std::optional<hai::slurm::JobRow> job;        // nullopt: Slurm no longer knows the job
  std::optional<hai::slurm::NodeRow> node_row;  // nullopt: not reported (unknown node)
  // The rank supervisor's exit file (the task's own exit status): the truth when present.
  std::optional<int> exit_code;
  std::string exit_reason;
  // Slurm's ExitCode of a job that ended without an exit file (the supervisor never ran).
  std::optional<int> slurm_exit_code;
  std::string batch_output;  // tail of the job's own output (sbatch --output), for reasons
};

// Whether the mapping of `f` needs Slurm's exit code (a job that ended with no exit file and
// not by its node): Poll then asks scontrol once.
bool NeedsSlurmExitCode(const RankFacts& f);

PodStatus MapRank(const RankFacts& f);

}  // namespace hai::manager::slurm_rt
