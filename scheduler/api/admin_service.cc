// AdminService: thin handlers over the store's admin operations. Every change wakes the loop
// (the tables' NOTIFY triggers would too; waking directly saves the round trip).
#include <regex>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/model/proto_enums.h"
#include "scheduler/api/auth.h"
#include "scheduler/api/grpc_status.h"
#include "scheduler/api/services.h"
#include "scheduler/policy/quota.h"

namespace hai::api {
namespace {

// The caller, who must be an admin.
absl::StatusOr<store::User> Admin(const grpc::ServerContext& context, store::Store& store) {
  auto user = Authenticate(context, store);
  if (!user.ok()) return user.status();
  if (!user->admin()) {
    return absl::PermissionDeniedError(
        absl::StrCat("user ", user->name, " is not an admin (role ", user->role, ")"));
  }
  return user;
}

#define HAI_ADMIN(var, context)            \
  auto var = Admin(*(context), *d_.store); \
  if (!var.ok()) return ToGrpc(var.status())

void FillUser(const store::User& u, hai::v1::AdminUser* out) {
  out->set_name(u.name);
  out->set_uid(u.uid);
  out->set_role(u.role);
  out->set_active(u.active);
  for (const std::string& g : u.groups) out->add_groups(g);
}

bool ValidName(const std::string& s, const char* pattern) {
  return std::regex_match(s, std::regex(pattern));
}

}  // namespace

grpc::Status AdminServiceImpl::UserAdd(grpc::ServerContext* context,
                                       const hai::v1::UserAddRequest* req,
                                       hai::v1::UserAddResponse* resp) {
  HAI_ADMIN(admin, context);
  if (!ValidName(req->name(), "[a-z_][a-z0-9_.]{0,63}")) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "user name '", req->name().substr(0, 80),
        "' must be 1-64 characters: a lowercase letter or '_', then lowercase letters, "
        "digits, '_' or '.'")));
  }
  const std::string role = req->role().empty() ? "internal" : req->role();
  if (role != "admin" && role != "internal" && role != "external") {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("role '", role, "' must be admin, internal or external")));
  }
  std::vector<std::string> groups(req->groups().begin(), req->groups().end());
  for (const std::string& g : groups) {
    if (!ValidName(g, "[A-Za-z0-9_.]{1,64}")) {
      return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
          "group name '", g.substr(0, 80), "' must be 1-64 letters, digits, '_' or '.'")));
    }
  }
  const std::string token = NewToken();
  auto user = d_.store->AddUser(req->name(), role, groups, HashToken(token));
  if (!user.ok()) return ToGrpc(user.status());
  HAI_LOG(INFO) << "admin " << admin->name << " added user " << req->name();
  FillUser(*user, resp->mutable_user());
  resp->set_token(token);
  d_.scheduler->Wake();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::UserList(grpc::ServerContext* context,
                                        const hai::v1::UserListRequest*,
                                        hai::v1::UserListResponse* resp) {
  HAI_ADMIN(admin, context);
  auto users = d_.store->ListUsers();
  if (!users.ok()) return ToGrpc(users.status());
  for (const store::User& u : *users) FillUser(u, resp->add_users());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::UserDisable(grpc::ServerContext* context,
                                           const hai::v1::UserDisableRequest* req,
                                           hai::v1::UserDisableResponse* resp) {
  HAI_ADMIN(admin, context);
  auto user = d_.store->SetUserActive(req->name(), false);
  if (!user.ok()) return ToGrpc(user.status());
  InvalidateAuthCache();  // the user's next call is refused, not served from the cache
  HAI_LOG(INFO) << "admin " << admin->name << " disabled user " << req->name();
  FillUser(*user, resp->mutable_user());
  if (req->stop_tasks()) {
    auto chains = d_.store->OpenChainsOf(req->name());
    if (!chains.ok()) return ToGrpc(chains.status());
    for (int64_t id : *chains) {
      auto outcome = d_.store->RequestStop(id, admin->name);
      if (!outcome.ok()) continue;
      if (*outcome == store::StopOutcome::kStopRequested) {
        auto chain = d_.store->GetChain(id);
        if (chain.ok() && chain->current() != nullptr) {
          d_.notifier->NotifyManager(chain->current()->attempt_id, "stop");
        }
      }
      resp->set_stopped_tasks(resp->stopped_tasks() + 1);
    }
  }
  d_.scheduler->Wake();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::UserRotateToken(grpc::ServerContext* context,
                                               const hai::v1::UserRotateTokenRequest* req,
                                               hai::v1::UserRotateTokenResponse* resp) {
  HAI_ADMIN(admin, context);
  const std::string token = NewToken();
  if (absl::Status s = d_.store->SetUserTokenHash(req->name(), HashToken(token)); !s.ok()) {
    return ToGrpc(s);
  }
  InvalidateAuthCache();  // the old token stops working at once
  HAI_LOG(INFO) << "admin " << admin->name << " rotated the token of " << req->name();
  resp->set_token(token);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::QuotaSet(grpc::ServerContext* context,
                                        const hai::v1::QuotaSetRequest* req,
                                        hai::v1::QuotaSetResponse*) {
  HAI_ADMIN(admin, context);
  const hai::v1::QuotaEntry& e = req->entry();
  policy::QuotaRow row{e.owner_kind(), e.owner(), e.resource(), e.quota(), std::nullopt, true};
  // Postgres' timestamp ends in year 294276; past year 9999 is a unit mistake, not a date.
  constexpr int64_t kLastExpiry = 253402300799;  // 9999-12-31T23:59:59Z
  if (e.expire_at_unix() > kLastExpiry) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "expire_at_unix must be a Unix time before year 10000, got ", e.expire_at_unix())));
  }
  if (e.expire_at_unix() > 0) row.expire_at = absl::FromUnixSeconds(e.expire_at_unix());
  if (row.owner_kind != "user" && row.owner_kind != "group" && row.owner_kind != "public") {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("owner kind '", row.owner_kind, "' must be user, group or public")));
  }
  if (row.owner_kind != "public" && row.owner.empty()) {
    return ToGrpc(absl::InvalidArgumentError("a user or group quota needs an owner name"));
  }
  // Reject what the scheduler would only skip: a typo here should fail loudly.
  policy::QuotaProblemKind why;
  if (!policy::ParseQuotaResource(row.resource, &why).has_value()) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("resource '", row.resource.substr(0, 80),
                     "' must be node-<group>-<TIER> with TIER one of LOW, BELOW_NORMAL, NORMAL, "
                     "ABOVE_NORMAL, HIGH, VERY_HIGH, EXTREME_HIGH")));
  }
  if (row.quota < 0) return ToGrpc(absl::InvalidArgumentError("quota must be >= 0 nodes"));
  if (absl::Status s = d_.store->UpsertQuota(row); !s.ok()) return ToGrpc(s);
  HAI_LOG(INFO) << "admin " << admin->name << " set quota " << row.owner_kind << ":" << row.owner
                << " " << row.resource << " = " << row.quota;
  d_.scheduler->Wake();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::QuotaList(grpc::ServerContext* context,
                                         const hai::v1::QuotaListRequest*,
                                         hai::v1::QuotaListResponse* resp) {
  HAI_ADMIN(admin, context);
  auto rows = d_.store->LoadQuotaRows();
  if (!rows.ok()) return ToGrpc(rows.status());
  for (const policy::QuotaRow& r : *rows) {
    hai::v1::QuotaEntry* e = resp->add_entries();
    e->set_owner_kind(r.owner_kind);
    e->set_owner(r.owner);
    e->set_resource(r.resource);
    e->set_quota(r.quota);
    if (r.expire_at.has_value()) e->set_expire_at_unix(absl::ToUnixSeconds(*r.expire_at));
    e->set_active(r.active);
  }
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::NodeAdd(grpc::ServerContext* context,
                                       const hai::v1::NodeAddRequest* req,
                                       hai::v1::NodeAddResponse*) {
  HAI_ADMIN(admin, context);
  if (!ValidName(req->name(), "[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("node name '", req->name().substr(0, 80),
                     "' must be 1-63 letters, digits, '_', '.' or '-'")));
  }
  if (req->group().empty() || req->group().find('-') != std::string::npos) {
    return ToGrpc(absl::InvalidArgumentError(
        "a node needs a group (-g), without '-' (quota resources are node-<group>-<TIER>)"));
  }
  if (req->gpus() < 0 || req->gpus() > 64) {
    return ToGrpc(absl::InvalidArgumentError("gpus must be between 0 and 64"));
  }
  policy::Node n;
  n.name = req->name();
  n.group = req->group();
  n.gpus = req->gpus();
  n.room = req->room();
  n.sw = req->switch_();
  if (absl::Status s = d_.store->AddNode(n); !s.ok()) return ToGrpc(s);
  HAI_LOG(INFO) << "admin " << admin->name << " added node " << n.name;
  d_.scheduler->Wake();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::NodeSetState(grpc::ServerContext* context,
                                            const hai::v1::NodeStateRequest* req,
                                            hai::v1::NodeStateResponse* resp) {
  HAI_ADMIN(admin, context);
  // unhealthy and offline are the system's to set (node health, a runtime); an admin moves a
  // node between serving, cordoned and draining.
  const std::optional<model::NodeState> state = model::FromProto(req->state());
  if (!state.has_value() || !model::AdminMaySet(*state)) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat("node state ",
                                                          hai::v1::Node::State_Name(req->state()),
                                                          " must be READY, CORDONED or DRAINING")));
  }
  auto holding = d_.store->SetNodeState(req->name(), *state, req->reason());
  if (!holding.ok()) return ToGrpc(holding.status());
  HAI_LOG(INFO) << "admin " << admin->name << " set node " << req->name() << " " << *state;
  if (*state == model::NodeState::kDraining) {
    // Running work leaves through the normal suspend protocol (checkpoint, requeue) and
    // resumes elsewhere; the node takes nothing new while draining.
    const std::string why = absl::StrCat("node ", req->name(), " drained by ", admin->name,
                                         req->reason().empty() ? "" : ": ", req->reason());
    for (int64_t attempt : *holding) {
      if (d_.store->RequestSuspend(attempt, 0, why, admin->name).ok()) {
        d_.notifier->NotifyManager(attempt, "suspend");
        resp->set_suspended_attempts(resp->suspended_attempts() + 1);
      }
    }
  }
  d_.scheduler->Wake();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Check(grpc::ServerContext* context, const hai::v1::CheckRequest*,
                                     hai::v1::CheckResponse* resp) {
  HAI_ADMIN(admin, context);
  for (const policy::QuotaProblem& p : d_.views->Quota().problems) {
    resp->add_problems(absl::StrCat("quota: ", p.message));
  }
  return grpc::Status::OK;
}

}  // namespace hai::api
