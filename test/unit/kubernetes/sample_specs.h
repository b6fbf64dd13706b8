// Rank specs shared by the manifest unit tests and the manifest dump used for schema
// validation, so what is validated is exactly what is unit-tested.
#pragma once

#include "manager/runtime/kubernetes/manifests.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::testing {

// Rank `rank` of a 2-node, 4-GPU-per-node attempt 42 with two storage mounts.
inline manager::PodSpec SampleSpec(int rank = 0) {
  manager::PodSpec s;
  s.rank = rank;
  s.node = rank == 0 ? "gpu-node-01" : "gpu-node-02";
  s.gpus = {0, 1, 2, 3};
  s.argv = {"python3", "train.py", "--lr", "0.1"};
  s.env = {"CUDA_VISIBLE_DEVICES=0,1,2,3", "HAI_TASK_ID=42",
           "MASTER_ADDR=127.0.0.1",        "MASTER_PORT=29500",
           "RANK=" + std::to_string(rank), "WORLD_SIZE=2"};
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
  return s;
}

inline manager::kube::ManifestOptions SampleOptions() {
  manager::kube::ManifestOptions o;
  o.namespace_ = "hai-tasks";
  o.termination_grace = absl::Seconds(10);
  return o;
}

}  // namespace hai::testing
