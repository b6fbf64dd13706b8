// Rank specs shared by the manifest unit tests and the manifest dump used for schema
// validation, so what is validated is exactly what is unit-tested.
#pragma once

#include "manager/runtime/kubernetes/manifests.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::testing {

inline constexpr char kSampleTaskToken[] = "t0k3n-of-attempt-42";

// Rank `rank` of a 2-node, 4-GPU-per-node attempt 42 with two storage mounts.
inline manager::PodSpec SampleSpec(int rank = 0) {
  manager::PodSpec s;
  s.rank = rank;
  s.node = rank == 0 ? "gpu-node-01" : "gpu-node-02";
  s.gpus = {0, 1, 2, 3};
  s.argv = {"python3", "train.py", "--lr", "0.1"};
  s.env = {"CUDA_VISIBLE_DEVICES=0,1,2,3",
           "HAI_TASK_ID=42",
           std::string("HAI_TASK_TOKEN=") + kSampleTaskToken,
           "MASTER_ADDR=127.0.0.1",
           "MASTER_PORT=29500",
           "RANK=" + std::to_string(rank),
           "WORLD_SIZE=2"};
  s.cwd = "/weka/alice/project";
  s.required_file = "train.py";
  s.log_path = "/tmp/rank.log";
  s.mounts = {{"/weka/alice", "/weka/alice", false, "workspace", 1},
              {"/datasets/imagenet", "/data/imagenet", true, "bind", 2}};
  s.attempt_id = 42;
  s.chain_id = 7;
  s.attempt_no = 3;
  s.user = "alice@lab";
  s.task_name = "resnet 50";
  s.world_size = 2;
  s.master_port = 29500;
  s.image = "registry.example/train:cu121";
  s.uid = 21034;
  s.gid = 2000;
  s.supplementary_gids = {3001, 3002};
  return s;
}

// Rank 0 of Jupyter container attempt 43 as the manager builds it for a Pod (jupyter_pod.cc):
// the notebook with its config in the files ConfigMap, a scratch emptyDir, the user's
// workspace hostPath, one GPU, 2 cores and 8 GiB.
inline manager::PodSpec SampleJupyterSpec() {
  manager::PodSpec s;
  s.rank = 0;
  s.node = "jup-node-01";
  s.gpus = {1};
  s.argv = {"jupyter-notebook", "--config=/hai/config/jupyter_notebook_config.py"};
  s.env = {"CUDA_VISIBLE_DEVICES=1", "HAI_JUPYTER_PORT=8888",
           "JUPYTER_RUNTIME_DIR=/hai/jupyter/runtime", "MASTER_ADDR=127.0.0.1"};
  s.cwd = "/hai/workspace";
  s.log_path = "/tmp/rank.log";
  s.mounts = {{"/var/lib/hai/workspaces/alice", "/hai/workspace", false, "workspace", 0}};
  s.container_port = 8888;
  s.cpu_millis = 2000;
  s.memory_mib = 8192;
  s.files_dir = "/hai/config";
  s.files = {{"jupyter_notebook_config.py", "c.NotebookApp.port = 8888\n"}};
  s.scratch_dir = "/hai/jupyter";
  s.attempt_id = 43;
  s.chain_id = 8;
  s.attempt_no = 1;
  s.user = "alice";
  s.task_name = "nb";
  s.world_size = 1;
  s.master_port = 29501;
  s.image = "registry.example/notebook:6";
  s.uid = 21034;
  return s;
}

inline manager::kube::ManifestOptions SampleOptions() {
  manager::kube::ManifestOptions o;
  o.namespace_ = "hai-tasks";
  o.termination_grace = absl::Seconds(10);
  return o;
}

}  // namespace hai::testing
