// Jupyter container preparation and activity reporting; see jupyter_pod.h.
#include "manager/jupyter_pod.h"

#include <unistd.h>

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

absl::StatusOr<std::unique_ptr<JupyterPod>> JupyterPod::Prepare(
    AttemptStore& store, const std::string& data_dir, const std::string& run_dir,
    const std::string& notebook_binary, const std::string& task_token, AttemptInfo* info) {
  auto loaded = store.LoadJupyter();
  if (!loaded.ok()) return loaded.status();
  JupyterPodInfo j = *std::move(loaded);
  j.notebook_binary = notebook_binary;

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
  j.config_path = j.state_dir + "/jupyter_notebook_config.py";
  auto config =
      JupyterNotebookConfig(j, {j.owner_token_hash, HashToken(task_token)}, ::geteuid() == 0);
  if (!config.ok()) return config.status();
  if (absl::Status s = WriteFileAtomically(j.config_path, *config, 0600); !s.ok()) return s;
  info->jupyter = j;
  std::unique_ptr<JupyterPod> pod(new JupyterPod(store, j.port, task_token));
  return pod;
}

void JupyterPod::Tick() {
  if (!port_reported_) {
    if (absl::Status s = store_.ReportJupyterPort(port_); !s.ok()) {
      HAI_LOG(WARNING) << "jupyter port report: " << s;
      return;
    }
    port_reported_ = true;
  }
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(0, 300000);  // loopback: a refusal is immediate
  client.set_read_timeout(2, 0);
  // The task token authenticates; the notebook does not count /api/status as activity.
  auto res = client.Get("/api/status", {{"Authorization", "token " + task_token_}});
  if (!res || res->status != 200) return;  // not up yet (or restarting): try next tick
  std::optional<absl::Time> activity = LastActivityFromStatus(res->body);
  if (ready_reported_ && activity == reported_activity_) return;
  if (absl::Status s = store_.ReportJupyterStatus(activity); !s.ok()) {
    HAI_LOG(WARNING) << "jupyter status report: " << s;
    return;
  }
  if (!ready_reported_) {
    HAI_LOG(INFO) << "jupyter server answers on 127.0.0.1:" << port_;
  }
  ready_reported_ = true;
  reported_activity_ = activity;
}

}  // namespace hai::manager
