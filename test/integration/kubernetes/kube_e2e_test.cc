// The whole path with the Kubernetes runtime: hai-cli submits to a real haid, which schedules
// onto `hosts` rows named like Kubernetes nodes and launches hai-manager, which runs the ranks
// as Pods on the API double; `hai-cli logs -f` streams what the pod log API delivered, and
// `hai-cli stop` ends a running task by deleting its Pods. A Jupyter container runs as a Pod
// with its ClusterIP Service and config ConfigMap, its real notebook server (started by the
// double) serves the URL haid hands out, and stop removes all of it. Nothing is left in the
// "cluster".
#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <httplib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"
#include "test/integration/kubernetes/kube_double.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class KubeE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = MakeTempDir("hai-kube-e2e-certs");
    MakeCertificates(certs_);
    double_ = KubeDouble::Start(certs_, "e2e-token");
    const std::string kubeconfig = double_->WriteKubeconfig(certs_ + "/kubeconfig", "e2e-token");
    workspaces_ = certs_ + "/workspaces";
    jupyter_port_ = FreePort();
    // No [[nodes]]: the harness's config then ends inside [manager], where these keys go.
    cluster_ = std::make_unique<Cluster>(
        0, 0,
        absl::StrCat("runtime = \"kubernetes\"\n[kubernetes]\nkubeconfig = \"", kubeconfig,
                     "\"\nnamespace = \"hai-e2e\"\ndefault_image = \"registry.local/py:3\"\n",
                     "jupyter_image = \"registry.local/notebook:6\"\njupyter_port = ",
                     jupyter_port_, "\njupyter_workspace_host_path = \"", workspaces_, "/\"\n"));
    // With the Kubernetes runtime, nodes are `hosts` rows named as the cluster's nodes; one
    // of a Jupyter group for the containers.
    cluster_->db().Exec(
        "INSERT INTO hosts (node, node_group, gpus, cpu_millis, memory_mib, jupyter) VALUES "
        "('kube-node-1', 'default', 8, 0, 0, false), ('kube-node-2', 'default', 8, 0, 0, false), "
        "('kube-jup-1', 'jupyter', 2, 8000, 16384, true)");
    cluster_->db().Exec(
        "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
        "('user','alice','jupyter:jupyter:containers', 1), ('user','alice','jupyter:jupyter:cpu', "
        "2),"
        "('user','alice','jupyter:jupyter:memory_gib', 4), ('user','alice','jupyter:jupyter:gpus', "
        "1)");
    cluster_->StartDaemon();
    cluster_->AddUser("alice", "alice-token");
  }
  void TearDown() override {
    // The harness kills pods.pid process groups (local-runtime ids); ours are Pod ids.
    cluster_->db().Exec("UPDATE pods SET pid = NULL");
    cluster_.reset();
    double_.reset();
  }

  std::string ManagerLogs() {
    return RunCommand("tail -n 40 " + cluster_->dir() + "/var/managers/*").output;
  }

  std::string certs_;
  std::string workspaces_;
  int jupyter_port_ = 0;
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

nlohmann::json JsonOf(const CommandResult& r) {
  const size_t brace = r.output.find('{');
  if (brace == std::string::npos) return nlohmann::json();
  return nlohmann::json::parse(r.output.substr(brace), nullptr, false);
}

// The request bodies of POSTs to `kind` in hai-e2e, by object name.
std::map<std::string, nlohmann::json> Created(KubeDouble& d, const std::string& kind) {
  std::map<std::string, nlohmann::json> out;
  for (const nlohmann::json& r : d.RequestsMatching("POST", "/namespaces/hai-e2e/" + kind + "$")) {
    out[r["body"]["metadata"]["name"].get<std::string>()] = r["body"];
  }
  return out;
}

TEST_F(KubeE2ETest, JupyterContainerIsAPodWithItsServiceAndStopRemovesThem) {
  CommandResult r =
      cluster_->Cli("alice", "jupyter create --name nb --cpu 1 --memory 2 --gpus 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output << cluster_->DaemonLog() << ManagerLogs();
  const nlohmann::json created = JsonOf(r);
  const std::string url = created["url"].get<std::string>();
  const int64_t chain =
      std::stoll(created["container"]["chain_id"].is_string()
                     ? created["container"]["chain_id"].get<std::string>()
                     : std::to_string(created["container"]["chain_id"].get<int64_t>()));
  const std::string attempt =
      cluster_->db().Query(absl::StrCat("SELECT attempt_id FROM attempts WHERE chain_id = ", chain,
                                        " ORDER BY attempt_no DESC LIMIT 1"));
  // The URL is the Service's cluster IP (the double assigns 127.0.0.1) and the server's port.
  const std::string base = absl::StrCat("http://127.0.0.1:", jupyter_port_, "/");
  // With the container's own token (64 hex digits), never alice's API token.
  ASSERT_EQ(url.rfind(base + "?token=", 0), 0u) << url;
  const std::string token = url.substr(url.find("?token=") + 7);
  EXPECT_EQ(token.size(), 64u) << url;
  EXPECT_NE(token, "alice-token");
  EXPECT_EQ(cluster_->db().Query(absl::StrCat(
                "SELECT host || ':' || port FROM jupyter_containers WHERE chain_id = ", chain)),
            absl::StrCat("127.0.0.1:", jupyter_port_));

  // One Pod on the jupyter node: the notebook with the generated config, the port, the
  // placed resources as requests and limits, the workspace and config volumes.
  const auto pods = Created(*double_, "pods");
  ASSERT_EQ(pods.size(), 1u);
  const std::string pod_name = absl::StrCat("hai-", attempt, "-0");
  ASSERT_EQ(pods.count(pod_name), 1u);
  const nlohmann::json& pod = pods.at(pod_name);
  EXPECT_EQ(pod["spec"]["nodeSelector"]["kubernetes.io/hostname"], "kube-jup-1");
  const nlohmann::json& c = pod["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "registry.local/notebook:6");
  EXPECT_EQ(c["ports"][0]["containerPort"], jupyter_port_);
  const nlohmann::json resources = {{"cpu", "1000m"}, {"memory", "2048Mi"}, {"nvidia.com/gpu", 1}};
  EXPECT_EQ(c["resources"]["limits"], resources);
  EXPECT_EQ(c["resources"]["requests"], resources);
  EXPECT_EQ(c["workingDir"], "/hai/workspace");
  EXPECT_THAT(c["command"].dump(), HasSubstr("\"jupyter-notebook\",\"--config=/hai/config/"
                                             "jupyter_notebook_config.py\""));
  std::map<std::string, nlohmann::json> volumes;
  for (const nlohmann::json& v : pod["spec"]["volumes"]) volumes[v["name"]] = v;
  std::map<std::string, nlohmann::json> mounts;
  for (const nlohmann::json& m : c["volumeMounts"]) mounts[m["mountPath"]] = m;
  ASSERT_EQ(mounts.count("/hai/workspace"), 1u) << c.dump(1);
  EXPECT_EQ(volumes[mounts["/hai/workspace"]["name"]]["hostPath"],
            nlohmann::json({{"path", workspaces_ + "/alice"}, {"type", "DirectoryOrCreate"}}));
  ASSERT_EQ(mounts.count("/hai/config"), 1u);
  EXPECT_EQ(mounts["/hai/config"]["readOnly"], true);
  EXPECT_EQ(volumes[mounts["/hai/config"]["name"]]["configMap"]["name"],
            absl::StrCat("hai-", attempt, "-files"));

  // The config travels in the attempt's ConfigMap: hashes only, never the user's token.
  const auto maps = Created(*double_, "configmaps");
  ASSERT_EQ(maps.size(), 1u);
  const std::string config =
      maps.begin()->second["data"]["jupyter_notebook_config.py"].get<std::string>();
  EXPECT_THAT(config, HasSubstr("c.NotebookApp.ip = '0.0.0.0'"));
  EXPECT_THAT(config, HasSubstr(absl::StrCat("c.NotebookApp.port = ", jupyter_port_, "\n")));
  EXPECT_THAT(config, Not(HasSubstr("alice-token")));
  EXPECT_EQ(maps.begin()->second["metadata"]["labels"]["hai.io/attempt"], attempt);

  // A ClusterIP Service (besides the attempt's headless one) selecting exactly that Pod.
  const auto services = Created(*double_, "services");
  ASSERT_EQ(services.size(), 2u);
  const std::string svc_name = absl::StrCat("hai-", attempt, "-jupyter");
  ASSERT_EQ(services.count(svc_name), 1u);
  const nlohmann::json& svc = services.at(svc_name);
  EXPECT_EQ(svc["spec"]["type"], "ClusterIP");
  EXPECT_FALSE(svc["spec"].contains("clusterIP")) << "the API server assigns it";
  EXPECT_EQ(svc["spec"]["selector"],
            nlohmann::json({{"hai.io/attempt", attempt}, {"hai.io/rank", "0"}}));
  ASSERT_EQ(svc["spec"]["ports"].size(), 1u);
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], jupyter_port_);
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"], jupyter_port_);
  EXPECT_EQ(svc["metadata"]["labels"]["app.kubernetes.io/managed-by"], "hai");
  EXPECT_EQ(svc["metadata"]["labels"]["hai.io/attempt"], attempt);
  EXPECT_EQ(svc["metadata"]["labels"]["hai.io/user"], "alice");
  for (const auto& [k, v] : svc["spec"]["selector"].items()) {
    EXPECT_EQ(pod["metadata"]["labels"][k], v) << k;
  }

  // The real notebook server the double started answers the URL with the container's token
  // (asking haid's side port, with the task token the Pod read from its Secret).
  httplib::Client http("127.0.0.1", jupyter_port_);
  http.set_follow_location(true);
  auto page = http.Get(absl::StrCat("/?token=", token).c_str());
  ASSERT_TRUE(page) << "no answer from " << url;
  EXPECT_EQ(page->status, 200) << page->body.substr(0, 300);
  httplib::Client anon("127.0.0.1", jupyter_port_);
  auto denied = anon.Get("/api/contents");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  auto api_token = anon.Get("/api/contents", {{"Authorization", "token alice-token"}});
  ASSERT_TRUE(api_token);
  EXPECT_EQ(api_token->status, 403);
  const httplib::Headers auth = {{"Authorization", "token " + token}};
  auto kernel = http.Post("/api/kernels", auth, "{\"name\": \"python3\"}", "application/json");
  ASSERT_TRUE(kernel);
  EXPECT_EQ(kernel->status, 201) << kernel->body;
  // The notebook root is the workspace volume (here the hostPath <dir>/alice).
  auto put =
      http.Put("/api/contents/hello.txt", auth,
               R"({"type": "file", "format": "text", "content": "kept"})", "application/json");
  ASSERT_TRUE(put);
  EXPECT_TRUE(put->status == 201 || put->status == 200) << put->status << put->body;
  std::ifstream on_disk(workspaces_ + "/alice/hello.txt");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(on_disk)), {}), "kept");

  const nlohmann::json procs = double_->Procs();
  ASSERT_TRUE(procs.contains("hai-e2e/" + pod_name)) << procs.dump();
  const pid_t pid = procs["hai-e2e/" + pod_name].get<pid_t>();

  // Stop: Pod, Services and ConfigMap are deleted and the server process is gone.
  r = cluster_->Cli("alice", "jupyter stop nb --wait --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(JsonOf(r)["container"]["state"], "STOPPED");
  EXPECT_TRUE(WaitFor([&] { return double_->Objects().empty(); }, 10000))
      << double_->Objects().dump(1);
  EXPECT_TRUE(WaitFor([&] { return ::kill(pid, 0) != 0 && errno == ESRCH; }, 10000))
      << "the notebook (pid " << pid << ") still runs";
  EXPECT_FALSE(double_->RequestsMatching("DELETE", "/services/" + svc_name + "$").empty());
  EXPECT_FALSE(
      double_->RequestsMatching("DELETE", absl::StrCat("/configmaps/hai-", attempt, "-files$"))
          .empty());
  httplib::Client after("127.0.0.1", jupyter_port_);
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/api/status")) << "the server still answers after stop";

  // Re-create: a new Pod over the same workspace.
  r = cluster_->Cli("alice", "jupyter create --name nb --cpu 1 --memory 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output << ManagerLogs();
  // A new container, a new access token (the old one is refused).
  const std::string url2 = JsonOf(r)["url"].get<std::string>();
  const std::string token2 = url2.substr(url2.find("?token=") + 7);
  EXPECT_NE(token2, token);
  httplib::Client again("127.0.0.1", jupyter_port_);
  auto listing = again.Get("/api/contents", {{"Authorization", "token " + token2}});
  ASSERT_TRUE(listing);
  EXPECT_THAT(listing->body, HasSubstr("hello.txt"));
  r = cluster_->Cli("alice", "jupyter stop nb --wait");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(WaitFor([&] { return double_->Objects().empty(); }, 10000))
      << double_->Objects().dump(1);
}

}  // namespace
}  // namespace hai::testing
