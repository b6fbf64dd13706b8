// The whole path with the Kubernetes runtime: hai-cli submits to a real haid, which schedules
// onto `hosts` rows named like Kubernetes nodes and launches hai-manager, which runs the ranks
// as Pods on the API double; `hai-cli logs -f` streams what the pod log API delivered, and
// `hai-cli stop` ends a running task by deleting its Pods. Nothing is left in the "cluster".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"
#include "test/integration/kubernetes/kube_double.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;

class KubeE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = MakeTempDir("hai-kube-e2e-certs");
    MakeCertificates(certs_);
    double_ = KubeDouble::Start(certs_, "e2e-token");
    const std::string kubeconfig = double_->WriteKubeconfig(certs_ + "/kubeconfig", "e2e-token");
    // No [[nodes]]: the harness's config then ends inside [manager], where these keys go.
    cluster_ = std::make_unique<Cluster>(
        0, 0,
        absl::StrCat("runtime = \"kubernetes\"\n[kubernetes]\nkubeconfig = \"", kubeconfig,
                     "\"\nnamespace = \"hai-e2e\"\ndefault_image = \"registry.local/py:3\"\n"));
    // With the Kubernetes runtime, nodes are `hosts` rows named as the cluster's nodes.
    cluster_->db().Exec(
        "INSERT INTO hosts (node, node_group, gpus) VALUES ('kube-node-1', 'default', 8), "
        "('kube-node-2', 'default', 8)");
    cluster_->StartDaemon();
    cluster_->AddUser("alice", "alice-token");
  }
  void TearDown() override {
    // The harness kills pods.pid process groups (local-runtime ids); ours are Pod ids.
    cluster_->db().Exec("UPDATE pods SET pid = NULL");
    cluster_.reset();
    double_.reset();
  }

  std::string certs_;
  std::unique_ptr<KubeDouble> double_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(KubeE2ETest, SubmittedTaskRunsAsPodsAndItsLogsReachTheCli) {
  const std::string script = cluster_->WriteScript(
      "train.py",
      "import os\nprint('RANK=%s WORLD_SIZE=%s NODE=%s' % (os.environ['RANK'], "
      "os.environ['WORLD_SIZE'], os.environ['HAI_NODE']), flush=True)\n");
  const int64_t id = cluster_->Submit("alice", script, "-n 2");
  ASSERT_GT(id, 0);
  auto logs = cluster_->Cli("alice", absl::StrCat("logs -f ", id));
  EXPECT_EQ(logs.exit_code, 0) << logs.output << cluster_->DaemonLog();
  EXPECT_THAT(logs.output, HasSubstr("RANK=0 WORLD_SIZE=2 NODE=kube-node-"));
  EXPECT_THAT(logs.output, HasSubstr("RANK=1 WORLD_SIZE=2 NODE=kube-node-"));
  EXPECT_EQ(cluster_->CurrentState(id), "succeeded");
  // One Pod per rank, each pinned to a different registered node.
  const auto creates = double_->RequestsMatching("POST", "/namespaces/hai-e2e/pods$");
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_NE(creates[0]["body"]["spec"]["nodeSelector"], creates[1]["body"]["spec"]["nodeSelector"]);
  EXPECT_TRUE(WaitFor([&] { return double_->Objects().empty(); }, 10000))
      << double_->Objects().dump(1);
}

TEST_F(KubeE2ETest, StopDeletesTheRunningPods) {
  const std::string script = cluster_->WriteScript(
      "loop.py", "import time\nprint('up', flush=True)\nwhile True:\n    time.sleep(0.1)\n");
  const int64_t id = cluster_->Submit("alice", script, "-n 1");
  ASSERT_GT(id, 0);
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(id) == "running"; }, 30000))
      << cluster_->DaemonLog();
  auto stop = cluster_->Cli("alice", absl::StrCat("stop ", id));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(id) == "stopped"; }, 30000))
      << cluster_->DaemonLog();
  EXPECT_FALSE(double_->RequestsMatching("DELETE", "/namespaces/hai-e2e/pods/").empty());
  EXPECT_TRUE(WaitFor([&] { return double_->Objects().empty(); }, 10000))
      << double_->Objects().dump(1);
}

}  // namespace
}  // namespace hai::testing
