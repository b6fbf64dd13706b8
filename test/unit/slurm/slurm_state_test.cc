// Parsers of Slurm's machine-readable output, on output captured from Slurm 22.05.
#include "common/slurm/slurm_state.h"

#include <gtest/gtest.h>

namespace hai::slurm {
namespace {

TEST(SlurmState, JobStatesAndTheirPredicates) {
  EXPECT_EQ(ParseJobState("RUNNING"), JobState::kRunning);
  EXPECT_EQ(ParseJobState("NODE_FAIL"), JobState::kNodeFail);
  EXPECT_EQ(ParseJobState("CANCELLED by 0"), JobState::kCancelled);
  EXPECT_EQ(ParseJobState("RESV_DEL_HOLD"), JobState::kOther);
  EXPECT_TRUE(IsJobFinished(JobState::kCompleted));
  EXPECT_TRUE(IsJobFinished(JobState::kNodeFail));
  // Completing: the job ended but processes may remain.
  EXPECT_FALSE(IsJobFinished(JobState::kCompleting));
  EXPECT_FALSE(IsJobFinished(JobState::kPending));
  EXPECT_TRUE(IsJobStarted(JobState::kRunning));
  EXPECT_FALSE(IsJobStarted(JobState::kPending));
  EXPECT_FALSE(IsJobStarted(JobState::kConfiguring));
  EXPECT_TRUE(IsNodeLoss(JobState::kNodeFail));
  EXPECT_TRUE(IsNodeLoss(JobState::kPreempted));
  EXPECT_FALSE(IsNodeLoss(JobState::kFailed));
  EXPECT_FALSE(IsNodeLoss(JobState::kCancelled));
}

TEST(SlurmState, ParsesSqueueRowsWithFreeTextReasons) {
  auto rows = ParseJobRows(
      "100001|hai-7-0|RUNNING|node-1|None\n"
      "100002|hai-7-1|PENDING||ReqNodeNotAvail, UnavailableNodes:node-2\n"
      "100003|hai-7-2|NODE_FAIL|node-0|a|b\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].id, 100001);
  EXPECT_EQ((*rows)[0].name, "hai-7-0");
  EXPECT_EQ((*rows)[0].state, JobState::kRunning);
  EXPECT_EQ((*rows)[0].node, "node-1");
  EXPECT_EQ((*rows)[0].reason, "");  // None
  EXPECT_EQ((*rows)[1].node, "");
  EXPECT_EQ((*rows)[1].reason, "ReqNodeNotAvail, UnavailableNodes:node-2");
  EXPECT_EQ((*rows)[2].reason, "a|b");  // the reason is last: '|' inside it is kept
  EXPECT_TRUE(ParseJobRows("").ok());
  EXPECT_EQ(ParseJobRows("garbage\n").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseJobRows("x|n|RUNNING|a|b\n").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SlurmState, NodeStates) {
  EXPECT_EQ(ParseNodeState("idle"), NodeHealth::kUp);
  EXPECT_EQ(ParseNodeState("mixed"), NodeHealth::kUp);
  EXPECT_EQ(ParseNodeState("allocated"), NodeHealth::kUp);
  EXPECT_EQ(ParseNodeState("draining"), NodeHealth::kDrain);
  EXPECT_EQ(ParseNodeState("drained"), NodeHealth::kDrain);
  EXPECT_EQ(ParseNodeState("mixed+drain"), NodeHealth::kDrain);
  EXPECT_EQ(ParseNodeState("down"), NodeHealth::kDown);
  EXPECT_EQ(ParseNodeState("down*"), NodeHealth::kDown);
  EXPECT_EQ(ParseNodeState("idle*"), NodeHealth::kDown);  // not responding
  EXPECT_EQ(ParseNodeState("failing"), NodeHealth::kDown);
}

TEST(SlurmState, ParsesSinfoRows) {
  auto rows = ParseNodeRows(
      "node-0|idle|127.0.0.1|gpu:2|gpu:0|none\n"
      "node-1|draining|10.0.0.2|gpu:a100:4(S:0-1)|gpu:a100:3(IDX:0-2)|disk check|by admin\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].health, NodeHealth::kUp);
  EXPECT_EQ((*rows)[0].gpus, 2);
  EXPECT_EQ((*rows)[0].reason, "");
  EXPECT_EQ((*rows)[1].health, NodeHealth::kDrain);
  EXPECT_EQ((*rows)[1].addr, "10.0.0.2");
  EXPECT_EQ((*rows)[1].gpus, 4);
  EXPECT_EQ((*rows)[1].gpus_used, 3);
  EXPECT_EQ((*rows)[1].reason, "disk check|by admin");
  EXPECT_EQ(ParseNodeRows("node-0|idle\n").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SlurmState, GpuCounts) {
  EXPECT_EQ(GpuCount("gpu:2"), 2);
  EXPECT_EQ(GpuCount("gpu:tesla:2(IDX:0,2),mps:100"), 2);
  EXPECT_EQ(GpuCount("gpu:a:1,gpu:b:2"), 3);
  EXPECT_EQ(GpuCount("(null)"), 0);
  EXPECT_EQ(GpuCount(""), 0);
}

TEST(SlurmState, SubmitOutputAndExitCodes) {
  EXPECT_EQ(*ParseSubmitOutput("100042\n"), 100042);
  EXPECT_EQ(*ParseSubmitOutput("100042;cluster\n"), 100042);
  EXPECT_EQ(ParseSubmitOutput("Submitted batch job 5").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseExitCode("JobId=5 JobName=x ExitCode=3:0 DerivedExitCode=0:0"), 3);
  EXPECT_EQ(ParseExitCode("JobId=5 ExitCode=0:9"), 128 + 9);
  EXPECT_EQ(ParseExitCode("JobId=5"), std::nullopt);
}

}  // namespace
}  // namespace hai::slurm
