// Identity and admin-editable tables: users, groups, hosts, quota, train environments.
#include "absl/strings/str_cat.h"
#include "common/model/states.h"
#include "scheduler/store/row_mapping.h"
#include "scheduler/store/store.h"

namespace hai::store {

const char kAuthenticateStatement[] = "hai_authenticate";
std::string AuthenticateSql() {
  return absl::StrCat(kUserSelect, " WHERE u.token_hash = $1 GROUP BY u.uid");
}

absl::StatusOr<User> Store::UserByTokenHash(const std::string& token_hash) {
  std::optional<User> user;
  // One statement, no transaction around it: every RPC authenticates.
  absl::Status s = pool_->Statement("authenticate", [&](pqxx::nontransaction& tx) {
    auto r = tx.exec_prepared(kAuthenticateStatement, token_hash);
    if (!r.empty()) user = UserFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!user) return absl::NotFoundError("unknown token");
  return *std::move(user);
}

absl::Status Store::UpsertConfigNodes(const std::vector<LocalNodeConfig>& nodes) {
  return pool_->Write("register nodes", [&](pqxx::work& tx) -> absl::Status {
    for (const LocalNodeConfig& n : nodes) {
      // Capacity and placement labels follow the config; an admin-set state is kept.
      tx.exec_params(
          "INSERT INTO hosts (node, node_group, gpus, cpu_millis, memory_mib, room, switch, "
          "jupyter, origin) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'config') "
          "ON CONFLICT (node) DO UPDATE SET node_group = EXCLUDED.node_group, "
          "gpus = EXCLUDED.gpus, cpu_millis = EXCLUDED.cpu_millis, "
          "memory_mib = EXCLUDED.memory_mib, room = EXCLUDED.room, switch = EXCLUDED.switch, "
          "jupyter = EXCLUDED.jupyter, updated_at = now() WHERE hosts.origin = 'config'",
          n.name, n.group, n.gpus, n.cpu_millis, n.memory_mib, n.room, n.sw, n.jupyter);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<HostRow>> Store::LoadHosts() {
  std::vector<HostRow> hosts;
  absl::Status s = pool_->Read("load hosts", [&](pqxx::read_transaction& tx) {
    for (const auto& r : tx.exec(
             "SELECT node, node_group, gpus, cpu_millis, memory_mib, room, switch, state, "
             "state_reason, jupyter FROM hosts ORDER BY node")) {
      HostRow h;
      h.node.name = r[0].as<std::string>();
      h.node.group = r[1].as<std::string>();
      h.node.gpus = r[2].as<int>();
      h.node.cpu_millis = r[3].as<int64_t>();
      h.node.memory_mib = r[4].as<int64_t>();
      h.node.room = r[5].as<std::string>();
      h.node.sw = r[6].as<std::string>();
      h.node.state = model::NodeStateFromDb(r[7].as<std::string>());
      h.state_reason = r[8].as<std::string>();
      h.node.jupyter = r[9].as<bool>();
      hosts.push_back(std::move(h));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return hosts;
}

absl::StatusOr<std::vector<policy::QuotaRow>> Store::LoadQuotaRows() {
  std::vector<policy::QuotaRow> rows;
  absl::Status s = pool_->Read("load quota", [&](pqxx::read_transaction& tx) {
    for (const auto& r : tx.exec(
             "SELECT owner_kind, owner, resource, quota, "
             "(extract(epoch from expire_at) * 1000000)::bigint, active FROM quota "
             "ORDER BY id")) {
      policy::QuotaRow q;
      q.owner_kind = r[0].as<std::string>();
      q.owner = r[1].as<std::string>();
      q.resource = r[2].as<std::string>();
      q.quota = r[3].as<int64_t>();
      if (!r[4].is_null()) q.expire_at = absl::FromUnixMicros(r[4].as<int64_t>());
      q.active = r[5].as<bool>();
      rows.push_back(std::move(q));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return rows;
}

absl::StatusOr<std::map<std::string, std::vector<std::string>>> Store::LoadUserGroups() {
  std::map<std::string, std::vector<std::string>> out;
  absl::Status s = pool_->Read("load groups", [&](pqxx::read_transaction& tx) {
    for (const auto& r : tx.exec("SELECT user_name FROM users")) {
      out[r[0].as<std::string>()];
    }
    for (const auto& r : tx.exec(
             "SELECT user_name, group_name FROM user_group_members ORDER BY 1, 2")) {
      out[r[0].as<std::string>()].push_back(r[1].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> Store::EnvironmentExists(const std::string& name) {
  std::optional<std::string> python;
  absl::Status s = pool_->Read("environment", [&](pqxx::read_transaction& tx) {
    auto r = tx.exec_params("SELECT python FROM train_environments WHERE env_name = $1", name);
    if (!r.empty()) python = r[0][0].as<std::string>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!python) return absl::NotFoundError(absl::StrCat("no train environment named '", name, "'"));
  return *python;
}

}  // namespace hai::store
