// Admin operations (AdminService): users and tokens, quota rows, nodes. Plain writes to the
// same tables admins may edit with SQL; their triggers NOTIFY haid like any SQL edit.
#include "absl/strings/str_cat.h"
#include "common/model/sql_sets.h"
#include "scheduler/store/row_mapping.h"
#include "scheduler/store/store.h"

namespace hai::store {

absl::StatusOr<User> Store::AddUser(const std::string& name, const std::string& role,
                                    const std::vector<std::string>& groups,
                                    const std::string& token_hash) {
  std::optional<User> user;
  absl::Status s = pool_->Write("add user", [&](pqxx::work& tx) -> absl::Status {
    auto exists = tx.exec_params("SELECT 1 FROM users WHERE user_name = $1", name);
    if (!exists.empty()) return absl::AlreadyExistsError(absl::StrCat("user ", name, " exists"));
    tx.exec_params("INSERT INTO users (user_name, role, token_hash) VALUES ($1, $2, $3)", name,
                   role, token_hash);
    for (const std::string& g : groups) {
      tx.exec_params("INSERT INTO user_groups (group_name) VALUES ($1) ON CONFLICT DO NOTHING",
                     g);
      tx.exec_params("INSERT INTO user_group_members (user_name, group_name) VALUES ($1, $2)",
                     name, g);
    }
    auto r = tx.exec_params(
        absl::StrCat(kUserSelect, " WHERE u.user_name = $1 GROUP BY u.uid"), name);
    user = UserFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return *std::move(user);
}

absl::StatusOr<std::vector<User>> Store::ListUsers() {
  std::vector<User> users;
  absl::Status s = pool_->Read("list users", [&](pqxx::read_transaction& tx) {
    for (const auto& r : tx.exec(absl::StrCat(kUserSelect, " GROUP BY u.uid ORDER BY u.user_name"))) {
      users.push_back(UserFromRow(r));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return users;
}

absl::StatusOr<User> Store::SetUserActive(const std::string& name, bool active) {
  std::optional<User> user;
  absl::Status s = pool_->Write("set user active", [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params("UPDATE users SET active = $2 WHERE user_name = $1 RETURNING uid",
                            name, active);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("no user ", name));
    user = UserFromRow(tx.exec_params(
        absl::StrCat(kUserSelect, " WHERE u.user_name = $1 GROUP BY u.uid"), name)[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return *std::move(user);
}

absl::Status Store::SetUserTokenHash(const std::string& name, const std::string& token_hash) {
  return pool_->Write("rotate token", [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params("UPDATE users SET token_hash = $2 WHERE user_name = $1 RETURNING uid",
                            name, token_hash);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("no user ", name));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<int64_t>> Store::OpenChainsOf(const std::string& user) {
  std::vector<int64_t> ids;
  absl::Status s = pool_->Read("open chains of user", [&](pqxx::read_transaction& tx) {
    for (const auto& r : tx.exec_params(
             "SELECT chain_id FROM chains WHERE user_name = $1 AND final_state IS NULL "
             "ORDER BY chain_id",
             user)) {
      ids.push_back(r[0].as<int64_t>());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return ids;
}

absl::Status Store::UpsertQuota(const policy::QuotaRow& q) {
  return pool_->Write("set quota", [&](pqxx::work& tx) -> absl::Status {
    const int64_t expire_us =
        q.expire_at.has_value() ? absl::ToUnixMicros(*q.expire_at) : int64_t{0};
    tx.exec_params(
        "INSERT INTO quota (owner_kind, owner, resource, quota, expire_at, active) "
        "VALUES ($1, $2, $3, $4, CASE WHEN $5 = 0 THEN NULL ELSE to_timestamp($5 / 1e6) END, $6) "
        "ON CONFLICT (owner_kind, owner, resource) DO UPDATE SET quota = EXCLUDED.quota, "
        "expire_at = EXCLUDED.expire_at, active = EXCLUDED.active",
        q.owner_kind, q.owner_kind == "public" ? "public" : q.owner, q.resource, q.quota,
        expire_us, q.active);
    return absl::OkStatus();
  });
}

absl::Status Store::AddNode(const policy::Node& n) {
  return pool_->Write("add node", [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(
        "INSERT INTO hosts (node, node_group, gpus, room, switch, origin) "
        "VALUES ($1, $2, $3, $4, $5, 'sql') ON CONFLICT (node) DO NOTHING RETURNING node",
        n.name, n.group, n.gpus, n.room, n.sw);
    if (r.empty()) return absl::AlreadyExistsError(absl::StrCat("node ", n.name, " exists"));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<int64_t>> Store::SetNodeState(const std::string& node,
                                                         model::NodeState state,
                                                         const std::string& reason) {
  std::vector<int64_t> holding;
  absl::Status s = pool_->Write("set node state", [&](pqxx::work& tx) -> absl::Status {
    auto r = tx.exec_params(
        "UPDATE hosts SET state = $2, state_reason = $3, updated_at = now() WHERE node = $1 "
        "RETURNING node",
        node, std::string(model::Name(state)), reason);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("no node ", node));
    for (const auto& row : tx.exec_params(
             "SELECT DISTINCT a.attempt_id FROM pods p JOIN attempts a USING (attempt_id) "
             "WHERE p.node = $1 AND a.state IN " +
                 model::HoldingAttemptStatesSql() +
                 " "
                 "ORDER BY a.attempt_id",
             node)) {
      holding.push_back(row[0].as<int64_t>());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return holding;
}

absl::StatusOr<std::map<std::string, std::vector<int64_t>>> Store::MarkUnhealthyNodes(
    int threshold) {
  std::map<std::string, std::vector<int64_t>> marked;
  absl::Status s = FencedWrite("node health", [&](pqxx::work& tx) -> absl::Status {
    auto bad = tx.exec_params(
        "SELECT h.node, count(*) FROM hosts h JOIN pods p ON p.node = h.node "
        "WHERE p.state = 'lost' AND p.ended_at > h.updated_at "
        "AND p.ended_at > now() - interval '10 minutes' AND h.state <> 'unhealthy' "
        "GROUP BY h.node HAVING count(*) >= $1",
        threshold);
    for (const auto& row : bad) {
      const std::string node = row[0].as<std::string>();
      tx.exec_params(
          "UPDATE hosts SET state = 'unhealthy', state_reason = $2, updated_at = now() "
          "WHERE node = $1",
          node,
          absl::StrCat(row[1].as<int>(), " rank(s) lost on this node in 10 min; "
                       "clear with `hai-cli admin node uncordon ", node, "`"));
      std::vector<int64_t>& holding = marked[node];
      for (const auto& a : tx.exec_params(
               "SELECT DISTINCT a.attempt_id FROM pods p JOIN attempts a USING (attempt_id) "
               "WHERE p.node = $1 AND a.state IN " +
                   model::HoldingAttemptStatesSql() +
                   " "
                   "ORDER BY a.attempt_id",
               node)) {
        holding.push_back(a[0].as<int64_t>());
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return marked;
}

}  // namespace hai::store
