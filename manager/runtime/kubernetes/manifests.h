// What the Kubernetes runtime creates, as pure functions of a rank's PodSpec: one Pod per rank
// pinned to its assigned node, and one headless Service per attempt that gives every rank a
// DNS name (<pod>.<service>.<namespace>.svc), so MASTER_ADDR names rank 0. A rank that serves
// (a Jupyter container: container_port) also gets a ClusterIP Service, and files the manager
// generated for the ranks (spec.files) travel in a ConfigMap of the attempt. No I/O here: the
// manifests are unit-tested field by field and validated against the upstream schema
// (kubernetes-models) in the test suite.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "manager/runtime/pod_runtime.h"
#include "nlohmann/json.hpp"

namespace hai::manager::kube {

struct ManifestOptions {
  std::string namespace_ = "hai-tasks";
  std::string gpu_resource = "nvidia.com/gpu";
  std::string rdma_resource;  // "" = none requested
  std::string default_image;
  std::string image_pull_policy = "IfNotPresent";
  std::string service_account;  // "" = no service account token in the pod
  // The container's root filesystem is read-only (kubernetes.read_only_root_filesystem); the
  // rank then gets a writable emptyDir at /tmp. Its volumes stay as declared.
  bool read_only_root_filesystem = false;
  // terminationGracePeriodSeconds: SIGTERM -> SIGKILL, the same kill grace as the local runtime.
  absl::Duration termination_grace = absl::Seconds(10);
};

// Label keys. Values that identify the attempt are what the runtime selects and adopts by.
inline constexpr char kLabelManagedBy[] = "app.kubernetes.io/managed-by";
inline constexpr char kLabelAttempt[] = "hai.io/attempt";
inline constexpr char kLabelChain[] = "hai.io/chain";
inline constexpr char kLabelAttemptNo[] = "hai.io/attempt-no";
inline constexpr char kLabelRank[] = "hai.io/rank";
inline constexpr char kLabelUser[] = "hai.io/user";
inline constexpr char kContainerName[] = "task";

std::string PodName(int64_t attempt_id, int rank);
std::string ServiceName(int64_t attempt_id);
// "hai-<attempt>-jupyter": the ClusterIP Service of a serving rank.
std::string JupyterServiceName(int64_t attempt_id);
// "hai-<attempt>-files": the ConfigMap holding spec.files.
std::string FilesConfigMapName(int64_t attempt_id);
// "hai-<attempt>-token": the Secret holding the attempt's task token.
std::string TokenSecretName(int64_t attempt_id);
// The Secret's key, and the environment variable the ranks read it as.
inline constexpr char kTokenSecretKey[] = "token";
inline constexpr char kTaskTokenEnv[] = "HAI_TASK_TOKEN";
// "hai.io/attempt=<id>": every object of one attempt.
std::string AttemptSelector(int64_t attempt_id);
// The DNS name of rank 0 through the attempt's headless Service.
std::string MasterAddress(int64_t attempt_id, const std::string& ns);
// A valid label value (<= 63 of [A-Za-z0-9_.-], alphanumeric at both ends) carrying as much
// of `raw` as fits; the raw value goes into an annotation.
std::string LabelValue(std::string_view raw);

// The Pod of one rank. InvalidArgument when it cannot be built (no image anywhere, no
// command, uid or gid 0). Environment: spec.env with MASTER_ADDR pointing at rank 0's DNS
// name, without CUDA_VISIBLE_DEVICES (the device plugin exposes the granted GPUs, renumbered
// from 0), and HAI_TASK_TOKEN read from the attempt's token Secret (secretKeyRef), never a
// literal value in the Pod object. Security context (docs/security.md): runAsUser/runAsGroup/
// supplementalGroups from spec.uid/gid/supplementary_gids (uid -1: left to the image),
// runAsNonRoot, the RuntimeDefault seccomp profile, no privilege escalation, every
// capability dropped, and optionally a read-only root filesystem.

absl::StatusOr<nlohmann::json> PodManifest(const PodSpec& spec, const ManifestOptions& options);

// The attempt's headless Service (selects every rank; publishes not-ready addresses so rank 0
// resolves as soon as it has an IP).
absl::StatusOr<nlohmann::json> ServiceManifest(const PodSpec& spec, const ManifestOptions& options);

// The ClusterIP Service of a serving rank (spec.container_port > 0): selects that rank's Pod,
// port -> containerPort, named "jupyter". InvalidArgument without a valid port.
absl::StatusOr<nlohmann::json> JupyterServiceManifest(const PodSpec& spec,
                                                      const ManifestOptions& options);

// The attempt's token Secret (HAI_TASK_TOKEN of spec.env under kTokenSecretKey). NotFound
// when spec.env has no task token (then the Pod references none either).
absl::StatusOr<nlohmann::json> TokenSecretManifest(const PodSpec& spec,
                                                   const ManifestOptions& options);

// The ConfigMap of spec.files (one key per file). InvalidArgument when there are none or a
// name is not a valid ConfigMap key.
absl::StatusOr<nlohmann::json> FilesConfigMapManifest(const PodSpec& spec,
                                                      const ManifestOptions& options);

}  // namespace hai::manager::kube
