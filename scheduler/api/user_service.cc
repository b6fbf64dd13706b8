// UserService: who the caller is, and their effective quota and use per group and tier.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/model/proto_enums.h"
#include "scheduler/api/auth.h"
#include "scheduler/api/grpc_status.h"
#include "scheduler/api/jupyter_service.h"
#include "scheduler/api/services.h"
#include "scheduler/policy/tier.h"

namespace hai::api {
namespace {

// Which owner's row gave the user's effective quota (same precedence as ResolveQuota).
std::string QuotaSource(const QuotaView& qv, const store::User& user, const std::string& group,
                        policy::Tier tier) {
  const std::string resource =
      absl::StrCat("node-", group, "-", std::string(policy::TierName(tier)));
  std::string source = "public";
  for (const policy::QuotaRow& r : qv.rows) {
    if (r.resource != resource) continue;
    if (r.owner_kind == "user" && r.owner == user.name) return absl::StrCat("user:", r.owner);
    if (r.owner_kind == "group" &&
        std::find(user.groups.begin(), user.groups.end(), r.owner) != user.groups.end()) {
      source = absl::StrCat("group:", r.owner);
    }
  }
  return source;
}

}  // namespace

grpc::Status UserServiceImpl::WhoAmI(grpc::ServerContext* context, const hai::v1::WhoAmIRequest*,
                                     hai::v1::WhoAmIResponse* resp) {
  auto user = Authenticate(*context, *d_.store);
  if (!user.ok()) return ToGrpc(user.status());
  resp->set_user(user->name);
  resp->set_uid(user->uid);
  resp->set_role(user->role);
  for (const std::string& g : user->groups) resp->add_groups(g);
  QuotaView qv = d_.views->Quota();
  for (const auto& [key, limit] : qv.quota) {
    if (key.user != user->name) continue;
    hai::v1::QuotaLine* line = resp->add_quota();
    line->set_group(key.group);
    line->set_tier(model::PriorityToProto(static_cast<int>(key.tier)));
    line->set_tier_name(std::string(policy::TierName(key.tier)));
    line->set_limit_nodes(limit);
    line->set_source(QuotaSource(qv, *user, key.group, key.tier));
    auto used = qv.used_nodes.find(key);
    line->set_used_nodes(used == qv.used_nodes.end() ? 0 : used->second);
  }
  return ToGrpc(AddJupyterQuotaLines(*d_.store, user->name, resp->mutable_jupyter_quota()));
}

}  // namespace hai::api
