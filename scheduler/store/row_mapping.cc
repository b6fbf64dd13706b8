#include "scheduler/store/row_mapping.h"

#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hai::store {

#define HAI_US(col) "(extract(epoch from " col ") * 1000000)::bigint"

const char* const kChainColumns =
    "c.chain_id, c.name, c.user_name, c.kind, c.node_group, c.priority, c.nodes, "
    "c.gpus_per_node, c.entrypoint, c.args::text AS args, c.workdir, c.env::text AS env, "
    "c.image, c.environment, " HAI_US("c.first_submit_at") " AS first_submit_us, "
    "c.whole_life_state, c.final_state, c.exit_code AS chain_exit_code, c.stop_requested, "
    "c.hold, " HAI_US("c.finished_at") " AS finished_us, c.time_limit_s";

const char* const kAttemptColumns =
    "a.attempt_id, a.chain_id AS a_chain_id, a.attempt_no, a.state, a.tier, "
    HAI_US("a.queued_at") " AS queued_us, " HAI_US("a.scheduled_at") " AS scheduled_us, "
    HAI_US("a.started_at") " AS started_us, " HAI_US("a.ended_at") " AS ended_us, "
    "a.end_reason, a.exit_code, a.manager_pid, a.manager_host, "
    HAI_US("a.manager_heartbeat_at") " AS heartbeat_us, "
    HAI_US("a.suspend_requested_at") " AS suspend_us, a.suspend_reason, "
    HAI_US("a.go_suspend_at") " AS go_suspend_us, "
    HAI_US("a.stop_requested_at") " AS stop_us";

#undef HAI_US

namespace {
std::optional<absl::Time> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMicros(f.as<int64_t>());
}
template <typename T>
std::optional<T> Opt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}
}  // namespace

ChainColumns::ChainColumns(const pqxx::row& first)
    : chain_id(first.column_number("chain_id")),
      name(first.column_number("name")),
      user_name(first.column_number("user_name")),
      kind(first.column_number("kind")),
      node_group(first.column_number("node_group")),
      priority(first.column_number("priority")),
      nodes(first.column_number("nodes")),
      gpus_per_node(first.column_number("gpus_per_node")),
      entrypoint(first.column_number("entrypoint")),
      args(first.column_number("args")),
      workdir(first.column_number("workdir")),
      env(first.column_number("env")),
      image(first.column_number("image")),
      environment(first.column_number("environment")),
      first_submit_us(first.column_number("first_submit_us")),
      whole_life_state(first.column_number("whole_life_state")),
      final_state(first.column_number("final_state")),
      chain_exit_code(first.column_number("chain_exit_code")),
      stop_requested(first.column_number("stop_requested")),
      hold(first.column_number("hold")),
      finished_us(first.column_number("finished_us")),
      time_limit_s(first.column_number("time_limit_s")) {}

AttemptColumns::AttemptColumns(const pqxx::row& first)
    : attempt_id(first.column_number("attempt_id")),
      a_chain_id(first.column_number("a_chain_id")),
      attempt_no(first.column_number("attempt_no")),
      state(first.column_number("state")),
      tier(first.column_number("tier")),
      queued_us(first.column_number("queued_us")),
      scheduled_us(first.column_number("scheduled_us")),
      started_us(first.column_number("started_us")),
      ended_us(first.column_number("ended_us")),
      end_reason(first.column_number("end_reason")),
      exit_code(first.column_number("exit_code")),
      manager_pid(first.column_number("manager_pid")),
      manager_host(first.column_number("manager_host")),
      heartbeat_us(first.column_number("heartbeat_us")),
      suspend_us(first.column_number("suspend_us")),
      suspend_reason(first.column_number("suspend_reason")),
      go_suspend_us(first.column_number("go_suspend_us")),
      stop_us(first.column_number("stop_us")) {}

ChainRow ChainFromRow(const pqxx::row& r, const ChainColumns& k) {
  ChainRow c;
  c.chain_id = r[k.chain_id].as<int64_t>();
  c.name = r[k.name].as<std::string>();
  c.user = r[k.user_name].as<std::string>();
  c.kind = model::TaskKindFromDb(r[k.kind].as<std::string>());
  c.group = r[k.node_group].as<std::string>();
  c.priority = r[k.priority].as<int>();
  c.nodes = r[k.nodes].as<int>();
  c.gpus_per_node = r[k.gpus_per_node].as<int>();
  c.entrypoint = r[k.entrypoint].as<std::string>();
  for (const auto& a : nlohmann::json::parse(r[k.args].as<std::string>())) {
    c.args.push_back(a.get<std::string>());
  }
  c.workdir = r[k.workdir].as<std::string>();
  // Named: items() of a temporary would dangle (the range-for keeps only the proxy alive).
  const nlohmann::json env = nlohmann::json::parse(r[k.env].as<std::string>());
  for (const auto& [k, v] : env.items()) {
    c.env[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  c.image = r[k.image].as<std::string>();
  c.environment = r[k.environment].as<std::string>();
  c.first_submit_at = absl::FromUnixMicros(r[k.first_submit_us].as<int64_t>());
  c.whole_life_state = r[k.whole_life_state].as<int>();
  if (!r[k.final_state].is_null()) {
    c.final_state = model::ChainStateFromDb(r[k.final_state].as<std::string>());
  }
  c.exit_code = Opt<int>(r[k.chain_exit_code]);
  c.stop_requested = r[k.stop_requested].as<bool>();
  c.hold = r[k.hold].as<bool>();
  c.finished_at = OptTime(r[k.finished_us]);
  c.time_limit_s = Opt<int64_t>(r[k.time_limit_s]).value_or(0);
  return c;
}

AttemptRow AttemptFromRow(const pqxx::row& r, const AttemptColumns& k) {
  AttemptRow a;
  a.attempt_id = r[k.attempt_id].as<int64_t>();
  a.chain_id = r[k.a_chain_id].as<int64_t>();
  a.attempt_no = r[k.attempt_no].as<int>();
  a.state = model::AttemptStateFromDb(r[k.state].as<std::string>());
  a.tier = r[k.tier].as<int>();
  a.queued_at = absl::FromUnixMicros(r[k.queued_us].as<int64_t>());
  a.scheduled_at = OptTime(r[k.scheduled_us]);
  a.started_at = OptTime(r[k.started_us]);
  a.ended_at = OptTime(r[k.ended_us]);
  a.end_reason = r[k.end_reason].as<std::string>();
  a.exit_code = Opt<int>(r[k.exit_code]);
  a.manager_pid = Opt<int>(r[k.manager_pid]);
  a.manager_host = r[k.manager_host].as<std::string>();
  a.manager_heartbeat_at = OptTime(r[k.heartbeat_us]);
  a.suspend_requested_at = OptTime(r[k.suspend_us]);
  a.suspend_reason = r[k.suspend_reason].as<std::string>();
  a.go_suspend_at = OptTime(r[k.go_suspend_us]);
  a.stop_requested_at = OptTime(r[k.stop_us]);
  return a;
}

ChainRow ChainFromRow(const pqxx::row& r) { return ChainFromRow(r, ChainColumns(r)); }

AttemptRow AttemptFromRow(const pqxx::row& r) { return AttemptFromRow(r, AttemptColumns(r)); }

PodRow PodFromRow(const pqxx::row& r) {
  PodRow p;
  p.rank = r["rank"].as<int>();
  p.node = r["node"].as<std::string>();
  p.gpus = ParseIntArray(r["gpus"].as<std::string>());
  p.state = model::PodStateFromDb(r["state"].as<std::string>());
  p.exit_code = Opt<int>(r["exit_code"]);
  p.pid = Opt<int64_t>(r["pid"]);
  return p;
}

std::string ArrayLiteral(const std::vector<int64_t>& ids) {
  return "{" + absl::StrJoin(ids, ",") + "}";
}
std::string ArrayLiteral(const std::vector<int>& values) {
  return "{" + absl::StrJoin(values, ",") + "}";
}

std::vector<int> ParseIntArray(const std::string& literal) {
  std::vector<int> out;
  absl::string_view body = literal;
  absl::ConsumePrefix(&body, "{");
  absl::ConsumeSuffix(&body, "}");
  for (absl::string_view part : absl::StrSplit(body, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

void AttachPods(pqxx::transaction_base& tx, std::vector<AttemptRow*> attempts) {
  if (attempts.empty()) return;
  std::map<int64_t, AttemptRow*> by_id;
  std::vector<int64_t> ids;
  for (AttemptRow* a : attempts) {
    by_id[a->attempt_id] = a;
    ids.push_back(a->attempt_id);
  }
  auto rows = tx.exec_params(
      "SELECT attempt_id, rank, node, gpus::text AS gpus, state, exit_code, pid FROM pods "
      "WHERE attempt_id = ANY($1::bigint[]) ORDER BY attempt_id, rank",
      ArrayLiteral(ids));
  for (const auto& r : rows) {
    by_id[r["attempt_id"].as<int64_t>()]->pods.push_back(PodFromRow(r));
  }
}

const char* const kUserSelect =
    "SELECT u.uid, u.user_name, u.role, u.active, "
    "coalesce(array_agg(m.group_name ORDER BY m.group_name) "
    "FILTER (WHERE m.group_name IS NOT NULL), '{}')::text "
    "FROM users u LEFT JOIN user_group_members m USING (user_name)";

User UserFromRow(const pqxx::row& r) {
  User u;
  u.uid = r[0].as<int64_t>();
  u.name = r[1].as<std::string>();
  u.role = r[2].as<std::string>();
  u.active = r[3].as<bool>();
  // Text form {a,b}; group names are [A-Za-z0-9_.] so no quoting occurs.
  std::string groups = r[4].as<std::string>();
  groups = groups.substr(1, groups.size() - 2);
  size_t start = 0;
  while (!groups.empty() && start <= groups.size()) {
    size_t comma = groups.find(',', start);
    if (comma == std::string::npos) comma = groups.size();
    u.groups.push_back(groups.substr(start, comma - start));
    start = comma + 1;
  }
  return u;
}

}  // namespace hai::store
