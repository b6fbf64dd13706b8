// Pod and Service manifests; see manifests.h.
#include "manager/runtime/kubernetes/manifests.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hai::manager::kube {
namespace {

// The rank's command, wrapped so a missing entrypoint fails the rank with 127 and a message
// in its log, as the local runtime does. `exec` keeps the user command as the container's
// main process, so it is what receives SIGTERM.
constexpr char kEntryCheck[] =
    "if [ -n \"$1\" ] && [ ! -e \"$1\" ]; then "
    "echo \"hai: entrypoint $1 not found\" >&2; exit 127; fi; shift; exec \"$@\"";

nlohmann::json Labels(const PodSpec& spec) {
  return {{kLabelManagedBy, "hai"},
          {kLabelAttempt, absl::StrCat(spec.attempt_id)},
          {kLabelChain, absl::StrCat(spec.chain_id)},
          {kLabelAttemptNo, absl::StrCat(spec.attempt_no)},
          {kLabelUser, LabelValue(spec.user)}};
}

nlohmann::json Annotations(const PodSpec& spec) {
  return {{"hai.io/user", spec.user},
          {"hai.io/task-name", spec.task_name},
          {"hai.io/node", spec.node},
          {"hai.io/gpus", absl::StrJoin(spec.gpus, ",")}};
}

// A DNS-1123 subdomain, what ConfigMap and PVC names must be.
bool ObjectName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return false;
    }
  }
  return absl::ascii_isalnum(static_cast<unsigned char>(name.front())) &&
         absl::ascii_isalnum(static_cast<unsigned char>(name.back()));
}

// The volume and volumeMount of one resolved storage row:
//   bind       hostPath (no type: Kubernetes then does not check, and a bind row may be a file
//              or a directory)
//   workspace  hostPath DirectoryOrCreate (like the local runtime's mkdir)
//   configmap  host_path "/<ConfigMap>[/<key>]": the ConfigMap, or one key as a file; read-only
//   pvc        host_path "/<claim>[/<sub-path>]": the claim, or a directory inside it
absl::StatusOr<std::pair<nlohmann::json, nlohmann::json>> StorageVolume(const storage::Mount& m,
                                                                        const std::string& name) {
  nlohmann::json volume = {{"name", name}};
  nlohmann::json mount = {{"name", name}, {"mountPath", m.mount_path}, {"readOnly", m.read_only}};
  if (m.type == "bind" || m.type == "workspace") {
    nlohmann::json host = {{"path", m.host_path}};
    if (m.type == "workspace") host["type"] = "DirectoryOrCreate";
    volume["hostPath"] = host;
    return std::make_pair(volume, mount);
  }
  if (m.type != "configmap" && m.type != "pvc") {
    return absl::InvalidArgumentError(
        absl::StrCat("storage row ", m.row_id, ": unknown mount_type '", m.type, "'"));
  }
  // host_path is normalised and absolute: "/<object>" or "/<object>/<rest>".
  const std::string path = m.host_path.substr(m.host_path.empty() ? 0 : 1);
  const size_t slash = path.find('/');
  const std::string object = path.substr(0, slash);
  const std::string rest = slash == std::string::npos ? "" : path.substr(slash + 1);
  if (!ObjectName(object)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "storage row ", m.row_id, ": '", object, "' is not a valid ", m.type,
        " name (host_path must be /<name>[/<", m.type == "pvc" ? "sub-path" : "key", ">])"));
  }
  if (m.type == "configmap") {
    volume["configMap"] = {{"name", object}};
    mount["readOnly"] = true;  // the kubelet mounts ConfigMaps read-only anyway
  } else {
    volume["persistentVolumeClaim"] = {{"claimName", object}, {"readOnly", m.read_only}};
  }
  if (!rest.empty()) mount["subPath"] = rest;
  return std::make_pair(volume, mount);
}

// A core/v1 object: apiVersion, kind and metadata; the caller adds spec or data.
nlohmann::json CoreV1Object(const char* kind, const std::string& name,
                            const ManifestOptions& options, nlohmann::json labels,
                            nlohmann::json annotations) {
  return nlohmann::json{{"apiVersion", "v1"},
                        {"kind", kind},
                        {"metadata",
                         {{"name", name},
                          {"namespace", options.namespace_},
                          {"labels", std::move(labels)},
                          {"annotations", std::move(annotations)}}}};
}

// The task token, from spec.env; "" when it has none.
std::string TaskToken(const PodSpec& spec) {
  const std::string prefix = absl::StrCat(kTaskTokenEnv, "=");
  for (const std::string& kv : spec.env) {
    if (absl::StartsWith(kv, prefix)) return kv.substr(prefix.size());
  }
  return "";
}

nlohmann::json ServicePort(const char* name, int port) {
  return {{"name", name}, {"port", port}, {"targetPort", port}, {"protocol", "TCP"}};
}

}  // namespace

std::string PodName(int64_t attempt_id, int rank) {
  return absl::StrCat("hai-", attempt_id, "-", rank);
}

std::string ServiceName(int64_t attempt_id) { return absl::StrCat("hai-", attempt_id); }

std::string JupyterServiceName(int64_t attempt_id) {
  return absl::StrCat("hai-", attempt_id, "-jupyter");
}

std::string FilesConfigMapName(int64_t attempt_id) {
  return absl::StrCat("hai-", attempt_id, "-files");
}

std::string TokenSecretName(int64_t attempt_id) {
  return absl::StrCat("hai-", attempt_id, "-token");
}

std::string AttemptSelector(int64_t attempt_id) {
  return absl::StrCat(kLabelAttempt, "=", attempt_id);
}

std::string MasterAddress(int64_t attempt_id, const std::string& ns) {
  return absl::StrCat(PodName(attempt_id, 0), ".", ServiceName(attempt_id), ".", ns, ".svc");
}

std::string LabelValue(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (out.size() == 63) break;
    out.push_back(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                          c == '.'
                      ? c
                      : '_');
  }
  // Both ends must be alphanumeric.
  while (!out.empty() && !absl::ascii_isalnum(static_cast<unsigned char>(out.back()))) {
    out.pop_back();
  }
  size_t lead = 0;
  while (lead < out.size() && !absl::ascii_isalnum(static_cast<unsigned char>(out[lead]))) ++lead;
  return out.substr(lead);
}

absl::StatusOr<nlohmann::json> PodManifest(const PodSpec& spec, const ManifestOptions& options) {
  const std::string image = spec.image.empty() ? options.default_image : spec.image;
  if (image.empty()) {
    return absl::InvalidArgumentError(
        "no container image: the task, its environment and kubernetes.default_image name none");
  }
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty command");
  // As on the local runtime, a task never runs as root (users.uid/gid 0 are refused).
  if (spec.uid == 0 || spec.gid == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "user ", spec.user, " has uid or gid 0: a task never runs as root (docs/security.md)"));
  }

  nlohmann::json env = nlohmann::json::array();
  for (const std::string& kv : spec.env) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = kv.substr(0, eq);
    if (name == "CUDA_VISIBLE_DEVICES" || name == "NVIDIA_VISIBLE_DEVICES") continue;
    if (name == kTaskTokenEnv) {
      // Anyone who may read Pods (kubectl get pod -o yaml) must not see the token: it lives in
      // the attempt's Secret, which the kubelet resolves when the container starts.
      env.push_back({{"name", name},
                     {"valueFrom",
                      {{"secretKeyRef",
                        {{"name", TokenSecretName(spec.attempt_id)}, {"key", kTokenSecretKey}}}}}});
      continue;
    }
    const std::string value = name == "MASTER_ADDR"
                                  ? MasterAddress(spec.attempt_id, options.namespace_)
                                  : kv.substr(eq + 1);
    env.push_back({{"name", name}, {"value", value}});
  }
  env.push_back({{"name", "HAI_POD_NAME"}, {"value", PodName(spec.attempt_id, spec.rank)}});
  if (spec.gpus_shared && !spec.gpus.empty()) {
    // Shared GPUs are not an extended resource the device plugin could grant twice: the
    // container runtime (nvidia as the default runtime) exposes hai's indices directly.
    env.push_back({{"name", "NVIDIA_VISIBLE_DEVICES"}, {"value", absl::StrJoin(spec.gpus, ",")}});
  }

  nlohmann::json command = {"/bin/sh", "-c", kEntryCheck, "hai-entry", spec.required_file};
  for (const std::string& a : spec.argv) command.push_back(a);

  nlohmann::json limits = nlohmann::json::object();
  if (!spec.gpus.empty() && !spec.gpus_shared) {
    limits[options.gpu_resource] = static_cast<int>(spec.gpus.size());
  }
  if (!options.rdma_resource.empty()) limits[options.rdma_resource] = 1;
  // CPU and memory the scheduler placed the rank by (Jupyter containers bin-pack on them).
  if (spec.cpu_millis > 0) limits["cpu"] = absl::StrCat(spec.cpu_millis, "m");
  if (spec.memory_mib > 0) limits["memory"] = absl::StrCat(spec.memory_mib, "Mi");

  nlohmann::json volumes = nlohmann::json::array();
  nlohmann::json mounts = nlohmann::json::array();
  // Training frameworks (NCCL, data loaders) need more shared memory than the runtime's 64 MiB.
  volumes.push_back({{"name", "dshm"}, {"emptyDir", {{"medium", "Memory"}}}});
  mounts.push_back({{"name", "dshm"}, {"mountPath", "/dev/shm"}});
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    auto volume = StorageVolume(spec.mounts[i], absl::StrCat("storage-", i));
    if (!volume.ok()) return volume.status();
    volumes.push_back(volume->first);
    mounts.push_back(volume->second);
  }
  if (!spec.files.empty() && absl::StartsWith(spec.files_dir, "/")) {
    volumes.push_back(
        {{"name", "hai-files"}, {"configMap", {{"name", FilesConfigMapName(spec.attempt_id)}}}});
    mounts.push_back({{"name", "hai-files"}, {"mountPath", spec.files_dir}, {"readOnly", true}});
  }
  if (absl::StartsWith(spec.scratch_dir, "/")) {
    volumes.push_back({{"name", "hai-scratch"}, {"emptyDir", nlohmann::json::object()}});
    mounts.push_back({{"name", "hai-scratch"}, {"mountPath", spec.scratch_dir}});
  }
  if (options.read_only_root_filesystem) {
    // Programs expect a writable /tmp; it is the only writable place besides the volumes.
    volumes.push_back({{"name", "hai-tmp"}, {"emptyDir", nlohmann::json::object()}});
    mounts.push_back({{"name", "hai-tmp"}, {"mountPath", "/tmp"}});
  }

  nlohmann::json container = {
      {"name", kContainerName}, {"image", image}, {"imagePullPolicy", options.image_pull_policy},
      {"command", command},     {"env", env},     {"volumeMounts", mounts}};
  // The task's code is untrusted: no way back to root inside the container (no setuid gain,
  // no capabilities), and the runtime's default syscall filter (pod level, below).
  container["securityContext"] = {{"allowPrivilegeEscalation", false},
                                  {"privileged", false},
                                  {"capabilities", {{"drop", nlohmann::json::array({"ALL"})}}},
                                  {"readOnlyRootFilesystem", options.read_only_root_filesystem}};
  if (!limits.empty()) container["resources"] = {{"limits", limits}, {"requests", limits}};
  if (absl::StartsWith(spec.cwd, "/")) container["workingDir"] = spec.cwd;
  if (spec.container_port > 0) {
    container["ports"] = nlohmann::json::array(
        {{{"name", "service"}, {"containerPort", spec.container_port}, {"protocol", "TCP"}}});
    // Ready when the server accepts connections, so the Service only routes to a live one.
    container["readinessProbe"] = {{"tcpSocket", {{"port", spec.container_port}}},
                                   {"periodSeconds", 2}};
  }

  nlohmann::json labels = Labels(spec);
  labels[kLabelRank] = absl::StrCat(spec.rank);
  const int64_t grace =
      static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(options.termination_grace)));
  nlohmann::json pod_spec = {
      {"nodeSelector", {{"kubernetes.io/hostname", spec.node}}},
      {"restartPolicy", "Never"},
      {"terminationGracePeriodSeconds", grace},
      // The pause container becomes PID 1, so the user command is an ordinary process that
      // gets the default SIGTERM action (PID 1 ignores signals it has no handler for).
      {"shareProcessNamespace", true},
      {"enableServiceLinks", false},
      {"automountServiceAccountToken", !options.service_account.empty()},
      {"hostname", PodName(spec.attempt_id, spec.rank)},
      {"subdomain", ServiceName(spec.attempt_id)},
      {"containers", nlohmann::json::array({container})},
      {"volumes", volumes}};
  if (!options.service_account.empty()) pod_spec["serviceAccountName"] = options.service_account;
  // The rank runs as its user (users.uid/gid/supplementary_gids), whatever USER the image
  // names; runAsNonRoot makes the kubelet refuse to start it as root in any case.
  nlohmann::json security = {{"runAsNonRoot", true},
                             {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  if (spec.uid > 0) {
    security["runAsUser"] = spec.uid;
    security["runAsGroup"] = spec.gid > 0 ? spec.gid : spec.uid;
    if (!spec.supplementary_gids.empty()) {
      security["supplementalGroups"] = spec.supplementary_gids;
    }
  }
  pod_spec["securityContext"] = std::move(security);
  if (!spec.gpus.empty()) {
    // GPU nodes are commonly tainted with the GPU resource name so that only GPU pods land.
    pod_spec["tolerations"] = nlohmann::json::array(
        {{{"key", options.gpu_resource}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
  }
  nlohmann::json pod =
      CoreV1Object("Pod", PodName(spec.attempt_id, spec.rank), options, labels, Annotations(spec));
  pod["spec"] = std::move(pod_spec);
  return pod;
}

absl::StatusOr<nlohmann::json> ServiceManifest(const PodSpec& spec,
                                               const ManifestOptions& options) {
  if (spec.master_port < 1 || spec.master_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("master port ", spec.master_port, " is not in 1..65535"));
  }
  nlohmann::json annotations = Annotations(spec);
  annotations.erase("hai.io/node");
  annotations.erase("hai.io/gpus");
  nlohmann::json ports = nlohmann::json::array({ServicePort("master", spec.master_port)});
  // A rank that serves something (a Jupyter server) is reachable at
  // <pod>.<service>.<namespace>.svc:<port> through the same Service.
  if (spec.container_port > 0 && spec.container_port <= 65535 &&
      spec.container_port != spec.master_port) {
    ports.push_back(ServicePort("service", spec.container_port));
  }
  nlohmann::json svc =
      CoreV1Object("Service", ServiceName(spec.attempt_id), options, Labels(spec), annotations);
  svc["spec"] = {{"clusterIP", "None"},
                 {"publishNotReadyAddresses", true},
                 {"selector", {{kLabelAttempt, absl::StrCat(spec.attempt_id)}}},
                 {"ports", ports}};
  return svc;
}

absl::StatusOr<nlohmann::json> JupyterServiceManifest(const PodSpec& spec,
                                                      const ManifestOptions& options) {
  if (spec.container_port < 1 || spec.container_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("container port ", spec.container_port, " is not in 1..65535"));
  }
  nlohmann::json annotations = Annotations(spec);
  annotations.erase("hai.io/gpus");
  nlohmann::json labels = Labels(spec);
  labels[kLabelRank] = absl::StrCat(spec.rank);
  nlohmann::json svc =
      CoreV1Object("Service", JupyterServiceName(spec.attempt_id), options, labels, annotations);
  svc["spec"] = {
      {"type", "ClusterIP"},
      {"selector",
       {{kLabelAttempt, absl::StrCat(spec.attempt_id)}, {kLabelRank, absl::StrCat(spec.rank)}}},
      {"ports", nlohmann::json::array({ServicePort("jupyter", spec.container_port)})}};
  return svc;
}

absl::StatusOr<nlohmann::json> TokenSecretManifest(const PodSpec& spec,
                                                   const ManifestOptions& options) {
  const std::string token = TaskToken(spec);
  if (token.empty()) return absl::NotFoundError("the rank has no task token");
  nlohmann::json annotations = Annotations(spec);
  annotations.erase("hai.io/node");
  annotations.erase("hai.io/gpus");
  nlohmann::json secret =
      CoreV1Object("Secret", TokenSecretName(spec.attempt_id), options, Labels(spec), annotations);
  secret["type"] = "Opaque";
  // `data` (base64), not stringData: the API server returns data, so a successor manager can
  // compare what it would create with what exists.
  secret["data"] = {{kTokenSecretKey, absl::Base64Escape(token)}};
  secret["immutable"] = true;
  return secret;
}

absl::StatusOr<nlohmann::json> FilesConfigMapManifest(const PodSpec& spec,
                                                      const ManifestOptions& options) {
  if (spec.files.empty()) return absl::InvalidArgumentError("no files for a ConfigMap");
  nlohmann::json data = nlohmann::json::object();
  for (const auto& [name, content] : spec.files) {
    // A ConfigMap key: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..".
    const bool key_ok = !name.empty() && name.size() <= 253 && name != "." && name != ".." &&
                        std::all_of(name.begin(), name.end(), [](char c) {
                          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                 c == '_' || c == '.';
                        });
    if (!key_ok) return absl::InvalidArgumentError(absl::StrCat("bad file name '", name, "'"));
    data[name] = content;
  }
  nlohmann::json annotations = Annotations(spec);
  annotations.erase("hai.io/node");
  annotations.erase("hai.io/gpus");
  nlohmann::json cm = CoreV1Object("ConfigMap", FilesConfigMapName(spec.attempt_id), options,
                                   Labels(spec), annotations);
  cm["data"] = std::move(data);
  return cm;
}

}  // namespace hai::manager::kube
