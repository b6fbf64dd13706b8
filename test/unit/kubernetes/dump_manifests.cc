// hai-k8s-dump-manifests DIR: writes every kind of manifest the Kubernetes runtime generates
// (ranks with and without GPUs, RDMA, service account, mounts; the headless Service; a
// Jupyter container's Pod, ClusterIP Service and ConfigMap; the task token's Secret; a
// read-only root filesystem) as JSON
// files into DIR, for the schema validation test (validate_manifests.js, kubernetes-models).
#include <fstream>
#include <iostream>

#include "manager/runtime/kubernetes/manifests.h"
#include "test/unit/kubernetes/sample_specs.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: hai-k8s-dump-manifests DIR\n";
    return 2;
  }
  namespace kube = hai::manager::kube;
  const std::string dir = argv[1];
  int written = 0;
  auto write = [&](const std::string& name, const absl::StatusOr<nlohmann::json>& m) {
    if (!m.ok()) {
      std::cerr << name << ": " << m.status() << "\n";
      return false;
    }
    std::ofstream(dir + "/" + name + ".json") << m->dump(2) << "\n";
    ++written;
    return true;
  };
  bool ok = true;
  auto opt = hai::testing::SampleOptions();
  ok &= write("pod-rank0", kube::PodManifest(hai::testing::SampleSpec(0), opt));
  ok &= write("pod-rank1", kube::PodManifest(hai::testing::SampleSpec(1), opt));
  ok &= write("service", kube::ServiceManifest(hai::testing::SampleSpec(0), opt));
  auto cpu = hai::testing::SampleSpec(0);
  cpu.gpus.clear();
  cpu.mounts.clear();
  cpu.cwd = ".";
  cpu.required_file.clear();
  ok &= write("pod-cpu-only", kube::PodManifest(cpu, opt));
  auto full = opt;
  full.rdma_resource = "rdma/hca";
  full.service_account = "trainer";
  full.image_pull_policy = "Always";
  full.termination_grace = absl::Milliseconds(2500);
  full.read_only_root_filesystem = true;
  ok &= write("pod-rdma-sa", kube::PodManifest(hai::testing::SampleSpec(1), full));
  auto serving = hai::testing::SampleSpec(0);
  serving.container_port = 8888;
  serving.cpu_millis = 4000;
  serving.memory_mib = 16384;
  ok &= write("pod-serving", kube::PodManifest(serving, opt));
  auto objects = hai::testing::SampleSpec(1);
  objects.mounts = {{"/task-scripts-7/run.sh", "/opt/run.sh", false, "configmap", 3},
                    {"/team-data/alice", "/data", true, "pvc", 4}};
  ok &= write("pod-configmap-pvc", kube::PodManifest(objects, opt));
  ok &= write("service-serving", kube::ServiceManifest(serving, opt));
  // A Jupyter container: its Pod (dedicated and shared GPUs), ClusterIP Service and ConfigMap.
  const auto jupyter = hai::testing::SampleJupyterSpec();
  ok &= write("pod-jupyter", kube::PodManifest(jupyter, opt));
  auto shared = jupyter;
  shared.gpus_shared = true;
  shared.mounts = {{"/notebooks/alice", "/hai/workspace", false, "pvc", 0}};
  ok &= write("pod-jupyter-shared-gpus-pvc", kube::PodManifest(shared, opt));
  ok &= write("service-jupyter", kube::JupyterServiceManifest(jupyter, opt));
  ok &= write("configmap-jupyter-files", kube::FilesConfigMapManifest(jupyter, opt));
  ok &= write("secret-task-token", kube::TokenSecretManifest(hai::testing::SampleSpec(0), opt));
  std::cout << written << " manifests written to " << dir << "\n";
  return ok ? 0 : 1;
}
