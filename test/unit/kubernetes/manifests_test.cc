// The Pod and Service the Kubernetes runtime creates, field by field: placement on the
// assigned node, GPU/RDMA resources, environment rewrites, mounts, identity labels, grace
// period and the headless Service that makes MASTER_ADDR resolvable.
#include "manager/runtime/kubernetes/manifests.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "test/unit/kubernetes/sample_specs.h"

namespace hai::testing {
namespace {

using manager::kube::FilesConfigMapManifest;
using manager::kube::JupyterServiceManifest;
using manager::kube::LabelValue;
using manager::kube::PodManifest;
using manager::kube::ServiceManifest;
using manager::kube::TokenSecretManifest;
using nlohmann::json;

std::string Env(const json& pod, const std::string& name) {
  for (const json& e : pod["spec"]["containers"][0]["env"]) {
    if (e["name"] == name) return e["value"];
  }
  return "<unset>";
}

TEST(ManifestsTest, PodIsPinnedToItsNodeWithItsGpus) {
  auto pod = PodManifest(SampleSpec(1), SampleOptions());
  ASSERT_TRUE(pod.ok()) << pod.status();
  const json& spec = (*pod)["spec"];
  EXPECT_EQ((*pod)["metadata"]["name"], "hai-42-1");
  EXPECT_EQ((*pod)["metadata"]["namespace"], "hai-tasks");
  EXPECT_EQ(spec["nodeSelector"], json({{"kubernetes.io/hostname", "gpu-node-02"}}));
  EXPECT_EQ(spec["restartPolicy"], "Never");
  EXPECT_EQ(spec["terminationGracePeriodSeconds"], 10);
  const json& c = spec["containers"][0];
  EXPECT_EQ(c["image"], "registry.example/train:cu121");
  EXPECT_EQ(c["resources"]["limits"], json({{"nvidia.com/gpu", 4}}));
  EXPECT_EQ(c["resources"]["requests"], json({{"nvidia.com/gpu", 4}}));
  EXPECT_EQ(c["workingDir"], "/weka/alice/project");
  // No RDMA resource unless configured; no service account token by default.
  EXPECT_FALSE(c["resources"]["limits"].contains("rdma/hca"));
  EXPECT_EQ(spec["automountServiceAccountToken"], false);
  EXPECT_FALSE(spec.contains("serviceAccountName"));
}

TEST(ManifestsTest, ConfigurableGpuAndRdmaResources) {
  auto opt = SampleOptions();
  opt.gpu_resource = "amd.com/gpu";
  opt.rdma_resource = "rdma/hca";
  opt.service_account = "trainer";
  auto pod = PodManifest(SampleSpec(), opt);
  ASSERT_TRUE(pod.ok());
  const json& limits = (*pod)["spec"]["containers"][0]["resources"]["limits"];
  EXPECT_EQ(limits, json({{"amd.com/gpu", 4}, {"rdma/hca", 1}}));
  EXPECT_EQ((*pod)["spec"]["tolerations"][0]["key"], "amd.com/gpu");
  EXPECT_EQ((*pod)["spec"]["serviceAccountName"], "trainer");
  EXPECT_EQ((*pod)["spec"]["automountServiceAccountToken"], true);
}

TEST(ManifestsTest, CpuOnlyRankRequestsNoGpus) {
  auto spec = SampleSpec();
  spec.gpus.clear();
  auto pod = PodManifest(spec, SampleOptions());
  ASSERT_TRUE(pod.ok());
  EXPECT_FALSE((*pod)["spec"]["containers"][0].contains("resources"));
  EXPECT_FALSE((*pod)["spec"].contains("tolerations"));
}

TEST(ManifestsTest, EnvironmentPointsAtRankZeroAndLeavesGpusToTheDevicePlugin) {
  auto pod = PodManifest(SampleSpec(1), SampleOptions());
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(Env(*pod, "MASTER_ADDR"), "hai-42-0.hai-42.hai-tasks.svc");
  EXPECT_EQ(Env(*pod, "MASTER_PORT"), "29500");
  EXPECT_EQ(Env(*pod, "RANK"), "1");
  EXPECT_EQ(Env(*pod, "HAI_POD_NAME"), "hai-42-1");
  EXPECT_EQ(Env(*pod, "CUDA_VISIBLE_DEVICES"), "<unset>");
  // The pod's DNS name is <hostname>.<subdomain>.<namespace>.svc.
  EXPECT_EQ((*pod)["spec"]["hostname"], "hai-42-1");
  EXPECT_EQ((*pod)["spec"]["subdomain"], "hai-42");
}

TEST(ManifestsTest, CommandChecksTheEntrypointThenExecsTheUserCommand) {
  auto pod = PodManifest(SampleSpec(), SampleOptions());
  ASSERT_TRUE(pod.ok());
  const json& cmd = (*pod)["spec"]["containers"][0]["command"];
  ASSERT_EQ(cmd.size(), 9u);
  EXPECT_EQ(cmd[0], "/bin/sh");
  EXPECT_EQ(cmd[1], "-c");
  EXPECT_NE(cmd[2].get<std::string>().find("exit 127"), std::string::npos);
  EXPECT_NE(cmd[2].get<std::string>().find("exec \"$@\""), std::string::npos);
  EXPECT_EQ(cmd[4], "train.py");
  EXPECT_EQ(cmd[5], "python3");
  EXPECT_EQ(cmd[8], "0.1");
}

TEST(ManifestsTest, StorageMountsBecomeHostPathVolumes) {
  auto pod = PodManifest(SampleSpec(), SampleOptions());
  ASSERT_TRUE(pod.ok());
  const json& volumes = (*pod)["spec"]["volumes"];
  const json& mounts = (*pod)["spec"]["containers"][0]["volumeMounts"];
  ASSERT_EQ(volumes.size(), 3u);  // /dev/shm + 2 storage rows
  EXPECT_EQ(volumes[0]["emptyDir"]["medium"], "Memory");
  EXPECT_EQ(mounts[0]["mountPath"], "/dev/shm");
  EXPECT_EQ(volumes[1]["hostPath"], json({{"path", "/weka/alice"}, {"type", "DirectoryOrCreate"}}));
  EXPECT_EQ(mounts[1],
            json({{"name", "storage-0"}, {"mountPath", "/weka/alice"}, {"readOnly", false}}));
  EXPECT_EQ(volumes[2]["hostPath"], json({{"path", "/datasets/imagenet"}}));
  EXPECT_EQ(mounts[2]["readOnly"], true);
  EXPECT_EQ(mounts[2]["mountPath"], "/data/imagenet");
}

TEST(ManifestsTest, ConfigMapAndClaimRowsBecomeTheirVolumes) {
  auto spec = SampleSpec();
  spec.mounts = {{"/task-scripts-7/run.sh", "/opt/run.sh", false, "configmap", 3},
                 {"/team-data", "/data", true, "pvc", 4},
                 {"/team-data/alice/ckpt", "/ckpt", false, "pvc", 5}};
  auto pod = PodManifest(spec, SampleOptions());
  ASSERT_TRUE(pod.ok()) << pod.status();
  const json& volumes = (*pod)["spec"]["volumes"];
  const json& mounts = (*pod)["spec"]["containers"][0]["volumeMounts"];
  EXPECT_EQ(volumes[1]["configMap"], json({{"name", "task-scripts-7"}}));
  EXPECT_EQ(mounts[1], json({{"name", "storage-0"},
                             {"mountPath", "/opt/run.sh"},
                             {"readOnly", true},
                             {"subPath", "run.sh"}}));
  EXPECT_EQ(volumes[2]["persistentVolumeClaim"],
            json({{"claimName", "team-data"}, {"readOnly", true}}));
  EXPECT_FALSE(mounts[2].contains("subPath"));
  EXPECT_EQ(volumes[3]["persistentVolumeClaim"]["claimName"], "team-data");
  EXPECT_EQ(mounts[3]["subPath"], "alice/ckpt");

  spec.mounts = {{"/Not_A_Name", "/x", false, "pvc", 9}};
  auto bad = PodManifest(spec, SampleOptions());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("storage row 9"), std::string::npos) << bad.status();
}

TEST(ManifestsTest, LabelsAndAnnotationsIdentifyTheRank) {
  auto pod = PodManifest(SampleSpec(1), SampleOptions());
  ASSERT_TRUE(pod.ok());
  const json& labels = (*pod)["metadata"]["labels"];
  EXPECT_EQ(labels["hai.io/attempt"], "42");
  EXPECT_EQ(labels["hai.io/chain"], "7");
  EXPECT_EQ(labels["hai.io/attempt-no"], "3");
  EXPECT_EQ(labels["hai.io/rank"], "1");
  EXPECT_EQ(labels["hai.io/user"], "alice_lab");  // '@' is not allowed in a label value
  EXPECT_EQ(labels["app.kubernetes.io/managed-by"], "hai");
  const json& ann = (*pod)["metadata"]["annotations"];
  EXPECT_EQ(ann["hai.io/user"], "alice@lab");
  EXPECT_EQ(ann["hai.io/task-name"], "resnet 50");
  EXPECT_EQ(ann["hai.io/gpus"], "0,1,2,3");
}

TEST(ManifestsTest, ImageFallsBackToTheDefaultAndIsRequired) {
  auto spec = SampleSpec();
  spec.image.clear();
  auto opt = SampleOptions();
  auto missing = PodManifest(spec, opt);
  EXPECT_TRUE(absl::IsInvalidArgument(missing.status()));
  EXPECT_NE(missing.status().message().find("kubernetes.default_image"), std::string::npos);
  opt.default_image = "python:3.11";
  auto pod = PodManifest(spec, opt);
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ((*pod)["spec"]["containers"][0]["image"], "python:3.11");
}

TEST(ManifestsTest, RelativeWorkdirIsLeftToTheImage) {
  auto spec = SampleSpec();
  spec.cwd = ".";
  auto pod = PodManifest(spec, SampleOptions());
  ASSERT_TRUE(pod.ok());
  EXPECT_FALSE((*pod)["spec"]["containers"][0].contains("workingDir"));
}

TEST(ManifestsTest, HeadlessServiceSelectsEveryRankOfTheAttempt) {
  auto svc = ServiceManifest(SampleSpec(), SampleOptions());
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ((*svc)["metadata"]["name"], "hai-42");
  EXPECT_EQ((*svc)["spec"]["clusterIP"], "None");
  EXPECT_EQ((*svc)["spec"]["publishNotReadyAddresses"], true);
  EXPECT_EQ((*svc)["spec"]["selector"], json({{"hai.io/attempt", "42"}}));
  EXPECT_EQ((*svc)["spec"]["ports"][0]["port"], 29500);
  auto bad = SampleSpec();
  bad.master_port = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(ServiceManifest(bad, SampleOptions()).status()));
}

TEST(ManifestsTest, ServingRankDeclaresItsPortAndResources) {
  auto spec = SampleSpec();
  spec.container_port = 8888;
  spec.cpu_millis = 4000;
  spec.memory_mib = 16384;
  auto pod = PodManifest(spec, SampleOptions());
  ASSERT_TRUE(pod.ok());
  const json& c = (*pod)["spec"]["containers"][0];
  EXPECT_EQ(c["ports"][0]["containerPort"], 8888);
  EXPECT_EQ(c["resources"]["limits"]["cpu"], "4000m");
  EXPECT_EQ(c["resources"]["requests"]["memory"], "16384Mi");
  auto svc = ServiceManifest(spec, SampleOptions());
  ASSERT_TRUE(svc.ok());
  ASSERT_EQ((*svc)["spec"]["ports"].size(), 2u);
  EXPECT_EQ((*svc)["spec"]["ports"][1]["port"], 8888);
}

// The mounts of a pod by mountPath, with their volumes.
std::map<std::string, std::pair<json, json>> Mounts(const json& pod) {
  std::map<std::string, json> volumes;
  for (const json& v : pod["spec"]["volumes"]) volumes[v["name"]] = v;
  std::map<std::string, std::pair<json, json>> out;
  for (const json& m : pod["spec"]["containers"][0]["volumeMounts"]) {
    out[m["mountPath"]] = {m, volumes[m["name"]]};
  }
  return out;
}

TEST(ManifestsTest, JupyterPodMountsItsConfigScratchAndWorkspace) {
  auto pod = PodManifest(SampleJupyterSpec(), SampleOptions());
  ASSERT_TRUE(pod.ok()) << pod.status();
  const json& c = (*pod)["spec"]["containers"][0];
  auto mounts = Mounts(*pod);
  ASSERT_EQ(mounts.count("/hai/config"), 1u) << c.dump(1);
  EXPECT_EQ(mounts["/hai/config"].first["readOnly"], true);
  EXPECT_EQ(mounts["/hai/config"].second["configMap"], json({{"name", "hai-43-files"}}));
  ASSERT_EQ(mounts.count("/hai/jupyter"), 1u);
  EXPECT_TRUE(mounts["/hai/jupyter"].second.contains("emptyDir"));
  ASSERT_EQ(mounts.count("/hai/workspace"), 1u);
  EXPECT_EQ(mounts["/hai/workspace"].second["hostPath"],
            json({{"path", "/var/lib/hai/workspaces/alice"}, {"type", "DirectoryOrCreate"}}));
  EXPECT_EQ(c["workingDir"], "/hai/workspace");
  EXPECT_EQ(c["command"][4], "") << "no entrypoint to check";
  EXPECT_EQ(c["command"][5], "jupyter-notebook");
  EXPECT_EQ(c["command"][6], "--config=/hai/config/jupyter_notebook_config.py");
  EXPECT_EQ(c["ports"][0]["containerPort"], 8888);
  EXPECT_EQ(c["readinessProbe"]["tcpSocket"]["port"], 8888);
  EXPECT_EQ(c["resources"]["limits"],
            json({{"cpu", "2000m"}, {"memory", "8192Mi"}, {"nvidia.com/gpu", 1}}));
  EXPECT_EQ(c["resources"]["requests"], c["resources"]["limits"]);
  EXPECT_EQ(Env(*pod, "NVIDIA_VISIBLE_DEVICES"), "<unset>");
  EXPECT_EQ(Env(*pod, "JUPYTER_RUNTIME_DIR"), "/hai/jupyter/runtime");
  // A rank without files or scratch has neither volume.
  auto plain = PodManifest(SampleSpec(), SampleOptions());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(Mounts(*plain).count("/hai/config"), 0u);
  EXPECT_EQ((*plain)["spec"]["volumes"].size(), 3u);  // dshm + the two storage rows
}

TEST(ManifestsTest, SharedGpusAreNamedNotRequested) {
  auto spec = SampleJupyterSpec();
  spec.gpus = {1, 3};
  spec.gpus_shared = true;
  spec.env.push_back("NVIDIA_VISIBLE_DEVICES=all");  // a user's value never reaches the pod
  auto pod = PodManifest(spec, SampleOptions());
  ASSERT_TRUE(pod.ok());
  const json& limits = (*pod)["spec"]["containers"][0]["resources"]["limits"];
  EXPECT_FALSE(limits.contains("nvidia.com/gpu")) << limits.dump();
  EXPECT_EQ(limits["cpu"], "2000m");
  EXPECT_EQ(Env(*pod, "NVIDIA_VISIBLE_DEVICES"), "1,3");
  EXPECT_EQ(Env(*pod, "CUDA_VISIBLE_DEVICES"), "<unset>");
  int nvidia = 0;
  for (const json& e : (*pod)["spec"]["containers"][0]["env"]) {
    nvidia += e["name"] == "NVIDIA_VISIBLE_DEVICES";
  }
  EXPECT_EQ(nvidia, 1);
  // Still tolerated onto the GPU node.
  EXPECT_EQ((*pod)["spec"]["tolerations"][0]["key"], "nvidia.com/gpu");
}

TEST(ManifestsTest, JupyterServiceIsAClusterIpOfTheServingRank) {
  auto svc = JupyterServiceManifest(SampleJupyterSpec(), SampleOptions());
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ((*svc)["kind"], "Service");
  EXPECT_EQ((*svc)["metadata"]["name"], "hai-43-jupyter");
  EXPECT_EQ((*svc)["metadata"]["namespace"], "hai-tasks");
  const json& labels = (*svc)["metadata"]["labels"];
  EXPECT_EQ(labels["app.kubernetes.io/managed-by"], "hai");
  EXPECT_EQ(labels["hai.io/attempt"], "43");
  EXPECT_EQ(labels["hai.io/chain"], "8");
  EXPECT_EQ(labels["hai.io/user"], "alice");
  EXPECT_EQ((*svc)["metadata"]["annotations"]["hai.io/task-name"], "nb");
  const json& spec = (*svc)["spec"];
  EXPECT_EQ(spec["type"], "ClusterIP");
  EXPECT_FALSE(spec.contains("clusterIP")) << "assigned by the API server";
  EXPECT_EQ(spec["selector"], json({{"hai.io/attempt", "43"}, {"hai.io/rank", "0"}}));
  EXPECT_EQ(
      spec["ports"],
      json::array(
          {{{"name", "jupyter"}, {"port", 8888}, {"targetPort", 8888}, {"protocol", "TCP"}}}));
  // The selector matches the Pod's labels.
  auto pod = PodManifest(SampleJupyterSpec(), SampleOptions());
  ASSERT_TRUE(pod.ok());
  for (const auto& [k, v] : spec["selector"].items()) {
    EXPECT_EQ((*pod)["metadata"]["labels"][k], v) << k;
  }
  auto none = SampleJupyterSpec();
  none.container_port = 0;
  EXPECT_FALSE(JupyterServiceManifest(none, SampleOptions()).ok());
}

TEST(ManifestsTest, FilesTravelInTheAttemptsConfigMap) {
  auto cm = FilesConfigMapManifest(SampleJupyterSpec(), SampleOptions());
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ((*cm)["kind"], "ConfigMap");
  EXPECT_EQ((*cm)["metadata"]["name"], "hai-43-files");
  EXPECT_EQ((*cm)["metadata"]["labels"]["hai.io/attempt"], "43");
  EXPECT_EQ((*cm)["data"], json({{"jupyter_notebook_config.py", "c.NotebookApp.port = 8888\n"}}));
  auto none = SampleJupyterSpec();
  none.files.clear();
  EXPECT_FALSE(FilesConfigMapManifest(none, SampleOptions()).ok());
  auto bad = SampleJupyterSpec();
  bad.files = {{"../etc/passwd", "x"}};
  EXPECT_FALSE(FilesConfigMapManifest(bad, SampleOptions()).ok());
}

TEST(ManifestsTest, LabelValuesAreSanitized) {
  EXPECT_EQ(LabelValue("alice"), "alice");
  EXPECT_EQ(LabelValue("-_a b_-"), "a_b");
  EXPECT_EQ(LabelValue(""), "");
  EXPECT_EQ(LabelValue(std::string(100, 'x')).size(), 63u);
  EXPECT_EQ(LabelValue("用户"), "");  // nothing of it fits a label; the annotation keeps it
}

}  // namespace
}  // namespace hai::testing

namespace hai::testing {
namespace {

using nlohmann::json;

// The rank runs as its user, never as root, with nothing to escalate to (docs/security.md).
TEST(ManifestsTest, PodRunsAsItsUserWithoutPrivileges) {
  auto pod = manager::kube::PodManifest(SampleSpec(0), SampleOptions());
  ASSERT_TRUE(pod.ok()) << pod.status();
  const json& sec = (*pod)["spec"]["securityContext"];
  EXPECT_EQ(sec["runAsUser"], 21034);
  EXPECT_EQ(sec["runAsGroup"], 2000);
  EXPECT_EQ(sec["supplementalGroups"], json::array({3001, 3002}));
  EXPECT_EQ(sec["runAsNonRoot"], true);
  EXPECT_EQ(sec["seccompProfile"]["type"], "RuntimeDefault");
  const json& c = (*pod)["spec"]["containers"][0]["securityContext"];
  EXPECT_EQ(c["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["privileged"], false);
  EXPECT_EQ(c["capabilities"]["drop"], json::array({"ALL"}));
  // Read-only root is an option, off by default.
  EXPECT_EQ(c["readOnlyRootFilesystem"], false);

  // No gid: the group of the same number, like the local runtime; no extra groups listed.
  auto spec = SampleSpec(0);
  spec.gid = -1;
  spec.supplementary_gids.clear();
  auto own_group = manager::kube::PodManifest(spec, SampleOptions());
  ASSERT_TRUE(own_group.ok());
  EXPECT_EQ((*own_group)["spec"]["securityContext"]["runAsGroup"], 21034);
  EXPECT_FALSE((*own_group)["spec"]["securityContext"].contains("supplementalGroups"));
}

TEST(ManifestsTest, RootIdentityIsRefused) {
  auto spec = SampleSpec(0);
  spec.uid = 0;
  auto pod = manager::kube::PodManifest(spec, SampleOptions());
  EXPECT_EQ(pod.status().code(), absl::StatusCode::kInvalidArgument);
  spec.uid = 21034;
  spec.gid = 0;
  EXPECT_EQ(manager::kube::PodManifest(spec, SampleOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ManifestsTest, ReadOnlyRootFilesystemKeepsTmpWritable) {
  auto opt = SampleOptions();
  opt.read_only_root_filesystem = true;
  auto pod = manager::kube::PodManifest(SampleSpec(0), opt);
  ASSERT_TRUE(pod.ok()) << pod.status();
  const json& c = (*pod)["spec"]["containers"][0];
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  bool tmp = false;
  for (const json& m : c["volumeMounts"]) {
    if (m["mountPath"] == "/tmp") tmp = m["name"] == "hai-tmp";
  }
  EXPECT_TRUE(tmp) << c["volumeMounts"].dump();
  bool empty_dir = false;
  for (const json& v : (*pod)["spec"]["volumes"]) {
    if (v["name"] == "hai-tmp") empty_dir = v.contains("emptyDir");
  }
  EXPECT_TRUE(empty_dir);
}

// The token is never a literal in the Pod (anyone who may read Pods would see it): the
// container reads it from the attempt's Secret, which holds exactly that token.
TEST(ManifestsTest, TaskTokenComesFromTheAttemptsSecret) {
  auto pod = manager::kube::PodManifest(SampleSpec(0), SampleOptions());
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->dump().find(kSampleTaskToken), std::string::npos) << pod->dump(1);
  json token_env;
  for (const json& e : (*pod)["spec"]["containers"][0]["env"]) {
    if (e["name"] == "HAI_TASK_TOKEN") token_env = e;
  }
  ASSERT_TRUE(token_env.is_object());
  EXPECT_FALSE(token_env.contains("value"));
  EXPECT_EQ(token_env["valueFrom"]["secretKeyRef"]["name"], "hai-42-token");
  EXPECT_EQ(token_env["valueFrom"]["secretKeyRef"]["key"], "token");

  auto secret = manager::kube::TokenSecretManifest(SampleSpec(0), SampleOptions());
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ((*secret)["kind"], "Secret");
  EXPECT_EQ((*secret)["metadata"]["name"], "hai-42-token");
  EXPECT_EQ((*secret)["metadata"]["namespace"], "hai-tasks");
  EXPECT_EQ((*secret)["metadata"]["labels"]["hai.io/attempt"], "42");
  EXPECT_EQ((*secret)["type"], "Opaque");
  // base64 of "t0k3n-of-attempt-42"
  EXPECT_EQ((*secret)["data"]["token"], "dDBrM24tb2YtYXR0ZW1wdC00Mg==");

  // A rank without a token gets no Secret.
  auto spec = SampleSpec(0);
  spec.env.clear();
  EXPECT_EQ(manager::kube::TokenSecretManifest(spec, SampleOptions()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace hai::testing
