// Jupyter container preparation and activity reporting; see jupyter_pod.h.
#include "manager/jupyter_pod.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/log.h"
#include "manager/atomic_file.h"
#include "manager/jupyter_config.h"
#include "manager/run_files.h"

namespace hai::manager {
namespace {

// A user name is [a-z_][a-z0-9_.]*, so it is a safe path component except "." and "..",
// which the users table's pattern cannot produce as a whole name starting with [a-z_].
std::string WorkspaceDir(const std::string& data_dir, const std::string& user) {
  return absl::StrCat(data_dir, "/workspaces/", user);
}

}  // namespace

std::optional<absl::Time> ParseJupyterTime(const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  return std::nullopt;
}

std::optional<absl::Time> LastActivityFromStatus(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("last_activity") || !j["last_activity"].is_string()) {
    return std::nullopt;
  }
  return ParseJupyterTime(j["last_activity"].get<std::string>());
}

JupyterStatusProbe HttpStatusProbe() {
  return [](const std::string& host, int port,
            const std::string& token) -> std::optional<std::string> {
    httplib::Client client(host, port);
    // Loopback refuses at once; a cluster IP may take a moment (kube-proxy rules).
    client.set_connection_timeout(0, host == "127.0.0.1" ? 300000 : 1000000);
    client.set_read_timeout(2, 0);
    // The task token authenticates; the notebook does not count /api/status as activity.
    auto res = client.Get("/api/status", {{"Authorization", "token " + token}});
    if (!res || res->status != 200) return std::nullopt;
    return res->body;
  };
}

storage::Mount PodWorkspaceMount(const JupyterPodOptions& options, const std::string& user) {
  storage::Mount m;
  m.mount_path = kPodWorkspace;
  if (!options.workspace_pvc.empty()) {
    m.type = "pvc";
    m.host_path = absl::StrCat("/", options.workspace_pvc, "/", user);
  } else {
    m.type = "workspace";  // hostPath DirectoryOrCreate
    std::string dir = options.workspace_host_path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    m.host_path = absl::StrCat(dir == "/" ? "" : dir, "/", user);
  }
  return m;
}

absl::StatusOr<std::unique_ptr<JupyterPod>> JupyterPod::Prepare(
    AttemptStore& store, const std::string& data_dir, const std::string& run_dir,
    const JupyterPodOptions& options, const std::string& task_token, AttemptInfo* info) {
  auto loaded = store.LoadJupyter();
  if (!loaded.ok()) return loaded.status();
  JupyterPodInfo j = *std::move(loaded);
  j.notebook_binary = options.notebook_binary;
  j.in_pod = options.in_pod;
  bool allow_root = ::geteuid() == 0;
  const bool run_as_user = allow_root && !options.in_pod && info->user_uid > 0;
  const uid_t uid = static_cast<uid_t>(info->user_uid);
  const gid_t gid = static_cast<gid_t>(info->user_gid > 0 ? info->user_gid : info->user_uid);
  if (options.in_pod) {
    // Everything lives in the Pod: nothing of the container is on this machine.
    j.port = options.pod_port;
    j.workspace = kPodWorkspace;
    j.state_dir = kPodStateDir;
    j.config_path = absl::StrCat(kPodConfigDir, "/", kConfigFileName);
    allow_root = true;  // the image decides the user; root must not stop the server
  } else {
    const std::string port_path = run_dir + "/jupyter_port";
    std::optional<std::string> saved = ReadRunFile(port_path);
    if (!saved.has_value() || !absl::SimpleAtoi(*saved, &j.port)) {
      auto picked = PickFreePort();
      if (!picked.ok()) return picked.status();
      j.port = *picked;
      if (absl::Status s = WriteRunFile(port_path, absl::StrCat(j.port)); !s.ok()) return s;
    }
    j.workspace = WorkspaceDir(data_dir, info->user_name);
    j.state_dir = run_dir + "/jupyter";
    std::error_code ec;
    for (const std::string& d : {j.workspace, j.state_dir + "/runtime", j.state_dir + "/data",
                                 j.state_dir + "/config", j.state_dir + "/ipython"}) {
      std::filesystem::create_directories(d, ec);
      if (ec) return absl::InternalError(absl::StrCat("cannot create ", d, ": ", ec.message()));
    }
    // Only the owner may read the runtime files (kernel connection keys).
    std::filesystem::permissions(j.state_dir, std::filesystem::perms::owner_all, ec);
    std::filesystem::permissions(j.workspace, std::filesystem::perms::owner_all, ec);
    // In the run directory (root's), not in the user's state directory: written by root.
    j.config_path = run_dir + "/" + kConfigFileName;
    if (run_as_user) {
      // The server runs as the user (the local runtime drops to users.uid when root): its
      // directories are the user's. lchown: a link the user put there is not followed.
      for (const std::string& d :
           {j.workspace, j.state_dir, j.state_dir + "/runtime", j.state_dir + "/data",
            j.state_dir + "/config", j.state_dir + "/ipython"}) {
        if (::lchown(d.c_str(), uid, gid) != 0) {
          return absl::InternalError(absl::StrCat("chown ", d, ": ", std::strerror(errno)));
        }
      }
    }
  }
  auto config = JupyterNotebookConfig(j, HashToken(task_token), allow_root);
  if (!config.ok()) return config.status();
  if (!options.in_pod) {
    if (absl::Status s = WriteFileAtomically(j.config_path, *config, 0600); !s.ok()) return s;
    if (run_as_user && ::lchown(j.config_path.c_str(), uid, gid) != 0) {
      return absl::InternalError(absl::StrCat("chown ", j.config_path, ": ", std::strerror(errno)));
    }
  }
  info->jupyter = j;
  const bool shared =
      std::find(options.gpu_sharing_groups.begin(), options.gpu_sharing_groups.end(),
                info->node_group) != options.gpu_sharing_groups.end();
  JupyterPodOptions with_probe = options;
  if (!with_probe.probe) with_probe.probe = HttpStatusProbe();
  std::unique_ptr<JupyterPod> pod(new JupyterPod(
      store, std::move(with_probe), j, *std::move(config), info->user_name, shared, task_token));
  return pod;
}

void JupyterPod::ApplyTo(PodSpec* spec) const {
  spec->container_port = info_.port;
  spec->cpu_millis = info_.cpu_millis;
  spec->memory_mib = info_.memory_mib;
  if (!opt_.in_pod) return;
  spec->files_dir = kPodConfigDir;
  spec->files = {{kConfigFileName, config_text_}};
  spec->scratch_dir = kPodStateDir;
  spec->mounts.push_back(PodWorkspaceMount(opt_, user_));
  spec->gpus_shared = gpus_shared_;
  spec->required_file.clear();  // the command is the notebook binary, not an entrypoint
  if (spec->image.empty()) spec->image = opt_.image;
}

absl::Status JupyterPod::Tick(const std::string& host) {
  if (host.empty()) return absl::OkStatus();
  if (host != reported_host_) {
    if (absl::Status s = store_.ReportJupyterAddress(host, info_.port); !s.ok()) {
      HAI_LOG(WARNING) << "jupyter address report: " << s;
      return s;
    }
    reported_host_ = host;
    ready_reported_ = false;
  }
  std::optional<std::string> body = opt_.probe(host, info_.port, task_token_);
  if (!body.has_value()) return absl::OkStatus();  // not up yet (or restarting): next tick
  std::optional<absl::Time> activity = LastActivityFromStatus(*body);
  if (ready_reported_ && activity == reported_activity_) return absl::OkStatus();
  if (absl::Status s = store_.ReportJupyterStatus(activity); !s.ok()) {
    HAI_LOG(WARNING) << "jupyter status report: " << s;
    return s;
  }
  if (!ready_reported_) {
    HAI_LOG(INFO) << "jupyter server answers on " << host << ":" << info_.port;
  }
  ready_reported_ = true;
  reported_activity_ = activity;
  return absl::OkStatus();
}

}  // namespace hai::manager
