// Slurm rank facts -> PodStatus; see rank_state.h.
#include "manager/runtime/slurm/rank_state.h"

#include "absl/strings/str_cat.h"

namespace hai::manager::slurm_rt {
namespace {

using hai::slurm::JobState;
using hai::slurm::NodeHealth;

std::string Because(const std::string& why) { return why.empty() ? "" : absl::StrCat(": ", why); }

bool EndedByItsCommand(const RankFacts& f) {
  return f.job.has_value() && hai::slurm::IsJobFinished(f.job->state) &&
         !hai::slurm::IsNodeLoss(f.job->state) && f.job->state != JobState::kCancelled;
}

}  // namespace

bool NeedsSlurmExitCode(const RankFacts& f) {
  return !f.exit_code.has_value() && EndedByItsCommand(f) && !f.slurm_exit_code.has_value();
}

PodStatus MapRank(const RankFacts& f) {
  PodStatus st;
  const bool finished = f.job.has_value() && hai::slurm::IsJobFinished(f.job->state);
  st.alive = f.job.has_value() && !finished;
  if (f.exit_code.has_value()) {
    // The supervisor recorded the task's exit: Slurm's view only says whether processes remain.
    st.phase = PodStatus::Phase::kExited;
    st.exit_code = *f.exit_code;
    st.reason = f.exit_reason;
    return st;
  }
  if (!f.job.has_value()) {
    st.phase = PodStatus::Phase::kLost;
    st.reason = absl::StrCat("Slurm job ", f.job_id,
                             " is no longer known to Slurm and recorded no exit status");
    return st;
  }
  const hai::slurm::JobRow& job = *f.job;
  if (finished) {
    if (EndedByItsCommand(f)) {
      // The batch script ended without the supervisor recording anything: it never ran (e.g.
      // hai-manager missing on the node, the working directory unreadable), or the job was
      // killed for its memory or time limit before the supervisor could write.
      st.phase = PodStatus::Phase::kExited;
      st.exit_code = f.slurm_exit_code.value_or(job.state == JobState::kOutOfMemory ? 137 : 127);
      if (st.exit_code == 0) st.exit_code = 127;  // a rank with no exit status did not succeed
      st.reason = absl::StrCat("Slurm job ", f.job_id, " ended ", job.state_name,
                               " without an exit status from hai's rank supervisor",
                               Because(f.batch_output));
      return st;
    }
    st.phase = PodStatus::Phase::kLost;
    st.reason = job.state == JobState::kCancelled
                    ? absl::StrCat("Slurm job ", f.job_id, " was cancelled")
                    : absl::StrCat("Slurm job ", f.job_id, " ended ", job.state_name, " on node ",
                                   job.node.empty() ? f.node : job.node, Because(job.reason));
    return st;
  }
  if (job.state == JobState::kRequeued) {
    st.phase = PodStatus::Phase::kLost;
    st.reason = absl::StrCat("Slurm requeued job ", f.job_id, Because(job.reason));
    return st;
  }
  // Running or waiting on a node that Slurm took out of service: the rank is lost (the
  // lifecycle terminates it and requeues the attempt); a drained node would never start it.
  if (f.node_row.has_value() && f.node_row->health != NodeHealth::kUp) {
    st.phase = PodStatus::Phase::kLost;
    st.reason = absl::StrCat("Slurm node ", f.node, " is ", hai::slurm::Name(f.node_row->health),
                             " (", f.node_row->state, ")", Because(f.node_row->reason));
    return st;
  }
  st.phase = PodStatus::Phase::kRunning;
  st.started = hai::slurm::IsJobStarted(job.state);
  return st;
}

}  // namespace hai::manager::slurm_rt
