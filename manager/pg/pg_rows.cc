// Row mappings of the manager's SQL (pg_rows.h).
#include "manager/pg/pg_rows.h"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/model/states.h"

namespace hai::manager::pg_rows {
namespace {

std::vector<int> ParseIntList(const std::string& csv) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(csv, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

// A JSON object of strings (chains.env, train_environments.env); non-string values are
// written as their JSON text so a number like 4 still arrives as "4".
EnvList ParseEnvObject(const std::string& text) {
  EnvList env;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return env;
  for (const auto& [k, v] : j.items()) {
    env.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  return env;
}

std::vector<std::string> ParseArgs(const std::string& text) {
  std::vector<std::string> args;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return args;
  for (const auto& v : j) args.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  return args;
}

std::string Text(const pqxx::row& r, const char* column) { return r[column].as<std::string>(); }

}  // namespace

void ReadAttempt(const pqxx::row& r, AttemptInfo* a) {
  a->attempt_id = r["attempt_id"].as<int64_t>();
  a->chain_id = r["chain_id"].as<int64_t>();
  a->attempt_no = r["attempt_no"].as<int>();
  a->tier = r["tier"].as<int>();
  a->state = model::AttemptStateFromDb(Text(r, "state"));
  a->task_token_hash = Text(r, "task_token_hash");
  a->chain_name = Text(r, "chain_name");
  a->user_name = Text(r, "user_name");
  a->kind = model::TaskKindFromDb(Text(r, "kind"));
  a->node_group = Text(r, "node_group");
  a->entrypoint = Text(r, "entrypoint");
  a->args = ParseArgs(Text(r, "args"));
  a->workdir = Text(r, "workdir");
  a->chain_env = ParseEnvObject(Text(r, "chain_env"));
  a->whole_life_state = r["whole_life_state"].as<int>();
  a->self_requeues = r["self_requeues"].as<int>();
  a->python = Text(r, "python");
  a->train_env = ParseEnvObject(Text(r, "train_env"));
  a->image = Text(r, "image");
}

PodInfo ReadPod(const pqxx::row& r) {
  PodInfo pod;
  pod.rank = r["rank"].as<int>();
  pod.node = Text(r, "node");
  pod.gpus = ParseIntList(Text(r, "gpus"));
  pod.state = model::PodStateFromDb(Text(r, "state"));
  if (!r["pid"].is_null()) pod.pid = r["pid"].as<int64_t>();
  if (!r["exit_code"].is_null()) pod.exit_code = r["exit_code"].as<int>();
  if (!r["start_generation"].is_null()) pod.start_generation = r["start_generation"].as<int64_t>();
  return pod;
}

storage::StorageRow ReadStorage(const pqxx::row& r) {
  storage::StorageRow row;
  row.id = r["id"].as<int64_t>();
  row.host_path = Text(r, "host_path");
  row.mount_path = Text(r, "mount_path");
  row.owner_kind = Text(r, "owner_kind");
  row.owner = Text(r, "owner");
  row.conditions = Text(r, "conditions");
  row.mount_type = Text(r, "mount_type");
  row.read_only = r["read_only"].as<bool>();
  row.action = Text(r, "action");
  return row;
}

ControlState ReadControl(const pqxx::row& r) {
  ControlState c;
  c.ended_elsewhere = model::IsEnded(model::AttemptStateFromDb(Text(r, "state")));
  c.stop_requested = r["stop_requested"].as<bool>();
  c.suspend_requested = r["suspend_requested"].as<bool>();
  c.suspend_reason = Text(r, "suspend_reason");
  c.go_suspend = r["go_suspend"].as<bool>();
  c.seconds_since_suspend_request = r["seconds_since_suspend_request"].as<double>();
  return c;
}

JupyterPodInfo ReadJupyter(const pqxx::row& r) {
  JupyterPodInfo info;
  info.cpu_millis = r["cpu_millis"].as<int64_t>();
  info.memory_mib = r["memory_mib"].as<int64_t>();
  info.gpus = r["gpus"].as<int>();
  return info;
}

}  // namespace hai::manager::pg_rows
