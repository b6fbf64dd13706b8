// The environment/argv contract between hai-manager and in-task code.
#include "manager/pod_env.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hai::manager {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

AttemptInfo Attempt() {
  AttemptInfo a;
  a.attempt_id = 42;
  a.chain_id = 7;
  a.attempt_no = 3;
  a.chain_name = "train";
  a.user_name = "alice";
  a.kind = model::TaskKind::kPython;
  a.node_group = "default";
  a.entrypoint = "train.py";
  a.args = {"--lr", "0.1"};
  a.workdir = "/work/alice";
  a.whole_life_state = 5;
  a.python = "/usr/bin/python3.11";
  a.train_env = {{"NCCL_DEBUG", "INFO"}, {"SHARED", "from-env"}};
  a.chain_env = {{"SHARED", "from-chain"}, {"RANK", "99"}, {"BAD=NAME", "x"}};
  return a;
}

std::vector<std::string> Env(const PodInfo& pod) {
  PodEnvContext ctx;
  ctx.world_size = 2;
  ctx.master_port = 29500;
  ctx.control_url = "http://127.0.0.1:7612";
  ctx.task_token = "tok";
  ctx.log_dir = "/var/logs/7/3";
  return BuildPodEnv(Attempt(), pod, ctx,
                     {"PATH=/usr/bin", "HOME=/root", "LC_ALL=C", "HAI_PG_URL=secret", "NOEQ"});
}

TEST(PodEnvTest, RankVariablesComeFromThePod) {
  PodInfo pod;
  pod.rank = 1;
  pod.node = "gpu-1";
  pod.gpus = {2, 3};
  const std::vector<std::string> env = Env(pod);
  EXPECT_THAT(env, Contains("RANK=1"));
  EXPECT_THAT(env, Contains("NODE_RANK=1"));
  EXPECT_THAT(env, Contains("HAI_RANK=1"));
  EXPECT_THAT(env, Contains("WORLD_SIZE=2"));
  EXPECT_THAT(env, Contains("MASTER_ADDR=127.0.0.1"));
  EXPECT_THAT(env, Contains("MASTER_PORT=29500"));
  EXPECT_THAT(env, Contains("CUDA_VISIBLE_DEVICES=2,3"));
  EXPECT_THAT(env, Contains("HAI_NODE=gpu-1"));
}

TEST(PodEnvTest, TaskIdentityTokenAndControlUrl) {
  const std::vector<std::string> env = Env(PodInfo{});
  EXPECT_THAT(env, Contains("HAI_TASK_ID=42"));
  EXPECT_THAT(env, Contains("HAI_ATTEMPT_ID=42"));
  EXPECT_THAT(env, Contains("HAI_CHAIN_ID=7"));
  EXPECT_THAT(env, Contains("HAI_ATTEMPT=3"));
  EXPECT_THAT(env, Contains("HAI_ATTEMPT_NO=3"));
  EXPECT_THAT(env, Contains("HAI_USER=alice"));
  EXPECT_THAT(env, Contains("HAI_WHOLE_LIFE_STATE=5"));
  EXPECT_THAT(env, Contains("HAI_TASK_TOKEN=tok"));
  EXPECT_THAT(env, Contains("HAI_CONTROL_URL=http://127.0.0.1:7612"));
}

TEST(PodEnvTest, PrecedenceAndFiltering) {
  const std::vector<std::string> env = Env(PodInfo{});
  // Inherited: only the allow-listed variables; the manager's secrets stay out.
  EXPECT_THAT(env, Contains("PATH=/usr/bin"));
  EXPECT_THAT(env, Contains("HOME=/root"));
  EXPECT_THAT(env, Contains("LC_ALL=C"));
  EXPECT_THAT(env, Not(Contains("HAI_PG_URL=secret")));
  // Chain env overrides the train environment; nobody overrides hai's own variables.
  EXPECT_THAT(env, Contains("NCCL_DEBUG=INFO"));
  EXPECT_THAT(env, Contains("SHARED=from-chain"));
  EXPECT_THAT(env, Contains("RANK=0"));
  EXPECT_THAT(env, Not(Contains("RANK=99")));
  EXPECT_THAT(env, Not(Contains("BAD=NAME=x")));
  // Sorted, one entry per key.
  EXPECT_TRUE(std::is_sorted(env.begin(), env.end()));
}

TEST(PodEnvTest, CudaVisibleDevicesEmptyWithoutGpus) {
  EXPECT_THAT(Env(PodInfo{}), Contains("CUDA_VISIBLE_DEVICES="));
}

TEST(PodArgvTest, PythonRunsTheEntrypointWithTheEnvironmentsInterpreter) {
  auto argv = BuildPodArgv(Attempt());
  ASSERT_TRUE(argv.ok());
  EXPECT_THAT(*argv, ElementsAre("/usr/bin/python3.11", "train.py", "--lr", "0.1"));
}

TEST(PodArgvTest, BashRunsTheScript) {
  AttemptInfo a = Attempt();
  a.kind = model::TaskKind::kBash;
  a.entrypoint = "/home/alice/run.sh";
  a.args = {"x"};
  auto argv = BuildPodArgv(a);
  ASSERT_TRUE(argv.ok());
  EXPECT_THAT(*argv, ElementsAre("/bin/bash", "/home/alice/run.sh", "x"));
}

TEST(PodArgvTest, JupyterRunsTheNotebookServerOncePrepared) {
  AttemptInfo a = Attempt();
  a.kind = model::TaskKind::kJupyter;
  // Not prepared by the manager (no port, config, workspace): refused.
  EXPECT_FALSE(BuildPodArgv(a).ok());
  JupyterPodInfo j;
  j.notebook_binary = "jupyter-notebook";
  j.port = 8899;
  j.config_path = "/var/run/7/jupyter/jupyter_notebook_config.py";
  j.state_dir = "/var/run/7/jupyter";
  j.workspace = "/var/workspaces/alice";
  a.jupyter = j;
  auto argv = BuildPodArgv(a);
  ASSERT_TRUE(argv.ok()) << argv.status();
  // The token never appears in argv (visible to every user in ps): it is in the config.
  EXPECT_THAT(*argv, ElementsAre("jupyter-notebook",
                                 "--config=/var/run/7/jupyter/jupyter_notebook_config.py"));
  EXPECT_EQ(PodWorkdir(a), "/var/workspaces/alice");
  PodEnvContext ctx;
  ctx.task_token = "tok";
  std::vector<std::string> env = BuildPodEnv(a, {0, "jup-0", {1}}, ctx, {});
  EXPECT_THAT(env, Contains("JUPYTER_RUNTIME_DIR=/var/run/7/jupyter/runtime"));
  EXPECT_THAT(env, Contains("JUPYTER_CONFIG_DIR=/var/run/7/jupyter/config"));
  EXPECT_THAT(env, Contains("HAI_JUPYTER_PORT=8899"));
  EXPECT_THAT(env, Contains("CUDA_VISIBLE_DEVICES=1"));
}

TEST(PodWorkdirTest, WorkdirOrTheEntrypointsDirectory) {
  AttemptInfo a = Attempt();
  EXPECT_EQ(PodWorkdir(a), "/work/alice");
  EXPECT_EQ(ResolvedEntrypoint(a), "train.py");
  a.workdir = "";
  a.entrypoint = "/home/alice/exp/train.py";
  EXPECT_EQ(PodWorkdir(a), "/home/alice/exp");
  EXPECT_EQ(ResolvedEntrypoint(a), "/home/alice/exp/train.py");
  a.entrypoint = "exp/train.py";
  EXPECT_EQ(PodWorkdir(a), "exp");
  EXPECT_EQ(ResolvedEntrypoint(a), "train.py");
}

TEST(ControlUrlTest, ExplicitUrlOrHttpListen) {
  EXPECT_EQ(ControlUrl("https://hai.example/", "0.0.0.0:7612"), "https://hai.example/");
  EXPECT_EQ(ControlUrl("", "127.0.0.1:7612"), "http://127.0.0.1:7612");
  EXPECT_EQ(ControlUrl("", "10.0.0.5:7612", /*tls=*/true), "https://10.0.0.5:7612");
}

}  // namespace
}  // namespace hai::manager
