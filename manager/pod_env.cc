// Rank environment, argv and working directory; see pod_env.h.
#include "manager/pod_env.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hai::manager {
namespace {

// A portable environment variable name; anything else (e.g. "A=B") would corrupt envp.
bool IsValidName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

bool IsInheritedVariable(const std::string& name) {
  static const char* const kNames[] = {"PATH",  "HOME",  "LANG",   "LANGUAGE", "TZ",
                                       "USER",  "LOGNAME", "SHELL", "TMPDIR",  "TERM"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return absl::StartsWith(name, "LC_");
}

std::vector<std::string> BuildPodEnv(const AttemptInfo& attempt, const PodInfo& pod,
                                     const PodEnvContext& ctx,
                                     const std::vector<std::string>& manager_environ) {
  std::map<std::string, std::string> env;
  for (const std::string& kv : manager_environ) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string name = kv.substr(0, eq);
    if (IsInheritedVariable(name)) env[name] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : attempt.train_env) {
    if (IsValidName(k)) env[k] = v;
  }
  for (const auto& [k, v] : attempt.chain_env) {
    if (IsValidName(k)) env[k] = v;
  }
  const std::string rank = absl::StrCat(pod.rank);
  env["RANK"] = rank;
  env["NODE_RANK"] = rank;
  env["WORLD_SIZE"] = absl::StrCat(ctx.world_size);
  env["MASTER_ADDR"] = "127.0.0.1";
  env["MASTER_PORT"] = absl::StrCat(ctx.master_port);
  env["CUDA_VISIBLE_DEVICES"] = absl::StrJoin(pod.gpus, ",");
  env["HAI_TASK_ID"] = absl::StrCat(attempt.attempt_id);
  env["HAI_CHAIN_ID"] = absl::StrCat(attempt.chain_id);
  env["HAI_ATTEMPT"] = absl::StrCat(attempt.attempt_no);
  // HAI_ATTEMPT_ID names the attempt in haid's task-control URLs (/v1/task/<id>/...).
  env["HAI_ATTEMPT_ID"] = absl::StrCat(attempt.attempt_id);
  env["HAI_ATTEMPT_NO"] = absl::StrCat(attempt.attempt_no);
  env["HAI_RANK"] = rank;
  env["HAI_TASK_NAME"] = attempt.chain_name;
  env["HAI_USER"] = attempt.user_name;
  env["HAI_NODE"] = pod.node;
  env["HAI_GROUP"] = attempt.node_group;
  env["HAI_WHOLE_LIFE_STATE"] = absl::StrCat(attempt.whole_life_state);
  env["HAI_CONTROL_URL"] = ctx.control_url;
  if (!ctx.ca_file.empty()) env["HAI_CA_FILE"] = ctx.ca_file;
  env["HAI_TASK_TOKEN"] = ctx.task_token;
  env["HAI_LOG_DIR"] = ctx.log_dir;
  env["PYTHONUNBUFFERED"] = "1";
  if (attempt.jupyter.has_value()) {
    // Jupyter keeps its runtime files (kernel connection files, cookie secret), data and
    // config per attempt, so nothing in the user's home changes its behaviour.
    const JupyterPodInfo& j = *attempt.jupyter;
    env["JUPYTER_CONFIG_DIR"] = j.state_dir + "/config";
    env["JUPYTER_DATA_DIR"] = j.state_dir + "/data";
    env["JUPYTER_RUNTIME_DIR"] = j.state_dir + "/runtime";
    env["IPYTHONDIR"] = j.state_dir + "/ipython";
    env["HAI_JUPYTER_PORT"] = absl::StrCat(j.port);
  }

  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(absl::StrCat(k, "=", v));
  return out;
}

absl::StatusOr<std::vector<std::string>> BuildPodArgv(const AttemptInfo& attempt) {
  std::vector<std::string> argv;
  if (attempt.kind == model::TaskKind::kPython) {
    argv.push_back(attempt.python.empty() ? "python3" : attempt.python);
  } else if (attempt.kind == model::TaskKind::kBash) {
    argv.push_back("/bin/bash");
  } else if (attempt.kind == model::TaskKind::kJupyter && attempt.jupyter.has_value()) {
    // The server reads everything else (port, root, auth) from its generated config.
    return std::vector<std::string>{attempt.jupyter->notebook_binary,
                                    "--config=" + attempt.jupyter->config_path};
  } else {
    return absl::InvalidArgumentError(absl::StrCat("task kind '",
                                                   std::string(model::Name(attempt.kind)),
                                                   "' cannot run on the local runtime"));
  }
  argv.push_back(ResolvedEntrypoint(attempt));
  argv.insert(argv.end(), attempt.args.begin(), attempt.args.end());
  return argv;
}

std::string PodWorkdir(const AttemptInfo& attempt) {
  if (attempt.jupyter.has_value()) return attempt.jupyter->workspace;
  if (!attempt.workdir.empty()) return attempt.workdir;
  const std::string dir = DirName(attempt.entrypoint);
  return dir.empty() ? "." : dir;
}

std::string ResolvedEntrypoint(const AttemptInfo& attempt) {
  // With an explicit workdir the entrypoint is taken as given (relative to the workdir).
  // Without one the rank runs in the entrypoint's directory, so a relative entrypoint must
  // be reduced to its file name.
  if (!attempt.workdir.empty() || absl::StartsWith(attempt.entrypoint, "/")) {
    return attempt.entrypoint;
  }
  const size_t slash = attempt.entrypoint.rfind('/');
  return slash == std::string::npos ? attempt.entrypoint : attempt.entrypoint.substr(slash + 1);
}

std::string ControlUrl(const std::string& control_url, const std::string& http_listen, bool tls) {
  if (!control_url.empty()) return control_url;
  return absl::StrCat(tls ? "https://" : "http://", http_listen);
}

}  // namespace hai::manager
