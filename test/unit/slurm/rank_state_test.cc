// How a Slurm rank's facts become the PodStatus the lifecycle decides on, and what sbatch is
// asked for (manager/runtime/slurm/).
#include "manager/runtime/slurm/rank_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manager/runtime/slurm/slurm_runtime.h"

namespace hai::manager::slurm_rt {
namespace {

using hai::slurm::JobState;
using hai::slurm::NodeHealth;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

RankFacts Facts(JobState state, const std::string& name = "RUNNING") {
  RankFacts f;
  f.job_id = 100007;
  f.node = "node-1";
  hai::slurm::JobRow j;
  j.id = 100007;
  j.name = "hai-3-1";
  j.state = state;
  j.state_name = name;
  j.node = "node-1";
  f.job = j;
  hai::slurm::NodeRow n;
  n.name = "node-1";
  n.state = "mixed";
  f.node_row = n;
  return f;
}

TEST(SlurmRankState, PendingIsRunningButNotStarted) {
  PodStatus st = MapRank(Facts(JobState::kPending, "PENDING"));
  EXPECT_EQ(st.phase, PodStatus::Phase::kRunning);
  EXPECT_FALSE(st.started);
  EXPECT_TRUE(st.alive);
  st = MapRank(Facts(JobState::kRunning));
  EXPECT_EQ(st.phase, PodStatus::Phase::kRunning);
  EXPECT_TRUE(st.started);
}

TEST(SlurmRankState, TheExitFileIsTheTasksExitCode) {
  RankFacts f = Facts(JobState::kCompleted, "COMPLETED");
  f.exit_code = 3;
  PodStatus st = MapRank(f);
  EXPECT_EQ(st.phase, PodStatus::Phase::kExited);
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_FALSE(st.alive);
  // Recorded while Slurm still cleans up: exited, not gone yet.
  f = Facts(JobState::kCompleting, "COMPLETING");
  f.exit_code = 0;
  st = MapRank(f);
  EXPECT_EQ(st.phase, PodStatus::Phase::kExited);
  EXPECT_TRUE(st.alive);
}

TEST(SlurmRankState, NodeFailuresAreLostRanks) {
  for (auto [state, name] :
       {std::pair{JobState::kNodeFail, "NODE_FAIL"}, std::pair{JobState::kBootFail, "BOOT_FAIL"},
        std::pair{JobState::kPreempted, "PREEMPTED"}}) {
    PodStatus st = MapRank(Facts(state, name));
    EXPECT_EQ(st.phase, PodStatus::Phase::kLost) << name;
    EXPECT_FALSE(st.alive);
    EXPECT_THAT(st.reason, HasSubstr(name));
  }
  EXPECT_FALSE(NeedsSlurmExitCode(Facts(JobState::kNodeFail, "NODE_FAIL")));
}

TEST(SlurmRankState, ARunningJobOnADrainedOrDownNodeIsLostWithSlurmsReason) {
  RankFacts f = Facts(JobState::kRunning);
  f.node_row->state = "draining";
  f.node_row->health = NodeHealth::kDrain;
  f.node_row->reason = "disk check";
  PodStatus st = MapRank(f);
  EXPECT_EQ(st.phase, PodStatus::Phase::kLost);
  EXPECT_TRUE(st.alive);  // the job still runs: the lifecycle terminates it
  EXPECT_THAT(st.reason, HasSubstr("node-1 is drained (draining): disk check"));
  f.node_row->state = "down*";
  f.node_row->health = NodeHealth::kDown;
  EXPECT_THAT(MapRank(f).reason, HasSubstr("is down"));
  // A pending job on a drained node would never start.
  f = Facts(JobState::kPending, "PENDING");
  f.node_row->health = NodeHealth::kDrain;
  EXPECT_EQ(MapRank(f).phase, PodStatus::Phase::kLost);
}

TEST(SlurmRankState, CancelledOutsideHaiOrForgottenIsLost) {
  PodStatus st = MapRank(Facts(JobState::kCancelled, "CANCELLED"));
  EXPECT_EQ(st.phase, PodStatus::Phase::kLost);
  EXPECT_THAT(st.reason, HasSubstr("cancelled"));
  RankFacts f = Facts(JobState::kRunning);
  f.job.reset();
  st = MapRank(f);
  EXPECT_EQ(st.phase, PodStatus::Phase::kLost);
  EXPECT_FALSE(st.alive);
}

TEST(SlurmRankState, AJobThatEndedWithoutTheSupervisorFailsWithSlurmsCode) {
  RankFacts f = Facts(JobState::kFailed, "FAILED");
  EXPECT_TRUE(NeedsSlurmExitCode(f));
  f.slurm_exit_code = 127;
  f.batch_output = "exec: hai-manager: not found";
  EXPECT_FALSE(NeedsSlurmExitCode(f));
  PodStatus st = MapRank(f);
  EXPECT_EQ(st.phase, PodStatus::Phase::kExited);
  EXPECT_EQ(st.exit_code, 127);
  EXPECT_THAT(st.reason, HasSubstr("not found"));
  // Never a success without the supervisor's word.
  f = Facts(JobState::kCompleted, "COMPLETED");
  f.slurm_exit_code = 0;
  EXPECT_EQ(MapRank(f).exit_code, 127);
  f = Facts(JobState::kOutOfMemory, "OUT_OF_MEMORY");
  EXPECT_EQ(MapRank(f).exit_code, 137);
}

PodSpec Spec() {
  PodSpec s;
  s.rank = 1;
  s.node = "node-1";
  s.gpus = {0, 1};
  s.argv = {"python3", "train.py", "--lr", "it's"};
  s.cwd = "/home/a";
  s.log_path = "/var/hai/logs/5/1/rank-1.log";
  s.exit_path = "/var/hai/run/9/rank-1.exit";
  s.uid = 1000;
  s.gid = 100;
  s.env = {"HAI_TASK_TOKEN=secret-token", "RANK=1"};
  return s;
}

TEST(SlurmSubmission, PinsTheNodeAsksGresRunsAsTheUserAndKeepsTheEnvironmentOutOfArgv) {
  SlurmRuntimeOptions opt;
  opt.supervisor_binary = "/opt/hai/bin/hai-manager";
  opt.job_name_prefix = "hai";
  opt.partition = "gpu";
  opt.account = "lab";
  opt.run_as_users = true;
  const PodSpec spec = Spec();
  auto sub = BuildSubmission(opt, spec, 9, RankDir(spec), "/var/hai/run/9/rank-1.slurm-env");
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(RankDir(spec), "/var/hai/run/9/rank-1.slurm");
  EXPECT_THAT(sub->args, Contains("--job-name=hai-9-1"));
  EXPECT_THAT(sub->args, Contains("--nodelist=node-1"));
  EXPECT_THAT(sub->args, Contains("--gres=gpu:2"));
  EXPECT_THAT(sub->args, Contains("--no-requeue"));
  EXPECT_THAT(sub->args, Contains("--uid=1000"));
  EXPECT_THAT(sub->args, Contains("--gid=100"));
  EXPECT_THAT(sub->args, Contains("--partition=gpu"));
  EXPECT_THAT(sub->args, Contains("--account=lab"));
  EXPECT_THAT(sub->args, Contains("--export-file=/var/hai/run/9/rank-1.slurm-env"));
  for (const std::string& a : sub->args) EXPECT_THAT(a, Not(HasSubstr("secret-token")));
  EXPECT_THAT(sub->script, Not(HasSubstr("secret-token")));
  EXPECT_THAT(sub->script, HasSubstr("exec '/opt/hai/bin/hai-manager' '--rank-supervisor'"));
  EXPECT_THAT(sub->script, HasSubstr("'--exit-file' '/var/hai/run/9/rank-1.slurm/exit'"));
  EXPECT_THAT(sub->script, HasSubstr("'it'\\''s'"));     // quoted for sh
  EXPECT_THAT(sub->script, Not(HasSubstr("--run-as")));  // Slurm switched users already
}

TEST(SlurmSubmission, RefusesWhatSlurmCannotDo) {
  SlurmRuntimeOptions opt;
  opt.run_as_users = true;
  PodSpec spec = Spec();
  spec.mounts.push_back({});
  spec.mounts.back().host_path = "/data/a";
  spec.mounts.back().mount_path = "/data";
  EXPECT_EQ(BuildSubmission(opt, spec, 9, "/r", "/e").status().code(),
            absl::StatusCode::kFailedPrecondition);
  spec.mounts.back().mount_path = "/data/a";  // the nodes' own path: nothing to mount
  EXPECT_TRUE(BuildSubmission(opt, spec, 9, "/r", "/e").ok());
  spec.uid = 0;
  EXPECT_EQ(BuildSubmission(opt, spec, 9, "/r", "/e").status().code(),
            absl::StatusCode::kFailedPrecondition);
  spec = Spec();
  spec.node = "";
  EXPECT_EQ(BuildSubmission(opt, spec, 9, "/r", "/e").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Shared GPUs (a Jupyter sharing group) are not Slurm's to bind.
  spec = Spec();
  spec.gpus_shared = true;
  auto sub = BuildSubmission(opt, spec, 9, "/r", "/e");
  ASSERT_TRUE(sub.ok());
  for (const std::string& a : sub->args) EXPECT_THAT(a, Not(HasSubstr("--gres")));
}

}  // namespace
}  // namespace hai::manager::slurm_rt
