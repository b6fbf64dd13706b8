// JupyterService handlers; see jupyter_service.h and docs/jupyter.md.
#include "scheduler/api/jupyter_service.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/model/proto_enums.h"
#include "common/model/states.h"
#include "scheduler/api/auth.h"
#include "scheduler/api/grpc_status.h"
#include "scheduler/api/image_ref.h"
#include "scheduler/policy/jupyter.h"

namespace hai::api {
namespace {

constexpr size_t kMaxNameLength = 128;
constexpr char kDefaultName[] = "notebook";

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t us = absl::ToUnixMicros(t);
  out->set_seconds(us / 1000000);
  out->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

// The caller's bearer token (already authenticated): the container's access token is
// derived from it (common/auth.h JupyterAccessToken).
std::string CallerToken(const grpc::ServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return "";
  return BearerToken(std::string_view(it->second.data(), it->second.size()));
}

bool Ready(const store::JupyterChain& c) {
  const store::AttemptRow* cur = c.chain.current();
  return cur != nullptr && cur->state == model::AttemptState::kRunning &&
         c.jupyter.attempt_id == cur->attempt_id && c.jupyter.ready_at.has_value() &&
         c.jupyter.port.has_value();
}

std::string BaseUrl(const store::JupyterChain& c) {
  // Where the manager found the server: loopback on the node (the local runtime, whose nodes
  // are this host), or the Kubernetes Service's cluster IP (docs/jupyter.md: port-forward
  // from outside the cluster). Rows from before the host was recorded are local.
  std::string host = c.jupyter.host.empty() ? "127.0.0.1" : c.jupyter.host;
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");  // IPv6
  return absl::StrCat("http://", host, ":", *c.jupyter.port, "/");
}

}  // namespace

#define HAI_AUTH(user_var, context)                               \
  auto user_var##_or = Authenticate(*(context), *d_.store);       \
  if (!user_var##_or.ok()) return ToGrpc(user_var##_or.status()); \
  const store::User& user_var = *user_var##_or

absl::StatusOr<store::JupyterChain> JupyterServiceImpl::Load(int64_t chain_id) {
  auto chain = d_.store->GetChain(chain_id);
  if (!chain.ok()) return chain.status();
  if (chain->row.kind != model::TaskKind::kJupyter) {
    return absl::NotFoundError(absl::StrCat("task ", chain_id, " is not a Jupyter container"));
  }
  auto rows = jstore_.LoadRows({chain_id});
  if (!rows.ok()) return rows.status();
  auto it = rows->find(chain_id);
  if (it == rows->end()) {
    return absl::NotFoundError(absl::StrCat("container ", chain_id, " has no jupyter row"));
  }
  return store::JupyterChain{*std::move(chain), it->second};
}

absl::StatusOr<store::JupyterChain> JupyterServiceImpl::Resolve(const store::User& user,
                                                                const hai::v1::JupyterRef& ref) {
  int64_t id = ref.chain_id();
  if (id == 0) {
    if (ref.name().empty()) return absl::InvalidArgumentError("give a container id or name");
    auto found = d_.store->FindChainByName(user.name, ref.name());
    if (absl::IsNotFound(found.status())) {
      return absl::NotFoundError(absl::StrCat("you have no container named '", ref.name(), "'"));
    }
    if (!found.ok()) return found.status();
    id = *found;
  }
  auto c = Load(id);
  if (!c.ok()) return c.status();
  if (c->chain.row.user != user.name && !user.admin()) {
    return absl::PermissionDeniedError(absl::StrCat("container ", id, " belongs to another user"));
  }
  return c;
}

void JupyterServiceImpl::Fill(const store::JupyterChain& c, hai::v1::JupyterContainer* out) const {
  const store::ChainRow& row = c.chain.row;
  const store::JupyterRow& j = c.jupyter;
  out->set_chain_id(row.chain_id);
  out->set_name(row.name);
  out->set_user(row.user);
  out->set_group(row.group);
  out->set_state(model::ToProto(c.chain.State()));
  out->set_cpu_millis(j.cpu_millis);
  out->set_memory_mib(j.memory_mib);
  out->set_gpus(j.gpus);
  out->set_keep_alive(j.keep_alive);
  out->set_image(row.image);
  SetTime(row.first_submit_at, out->mutable_created_at());
  const store::AttemptRow* cur = c.chain.current();
  absl::Time last = j.api_activity_at;
  if (cur != nullptr) {
    if (model::IsOpen(cur->state) && !cur->pods.empty()) {
      out->set_node(cur->pods[0].node);
      for (int g : cur->pods[0].gpus) out->add_gpu_indices(g);
    }
    if (cur->started_at.has_value()) last = std::max(last, *cur->started_at);
    if (j.attempt_id == cur->attempt_id && j.server_activity_at.has_value()) {
      last = std::max(last, *j.server_activity_at);
    }
    out->set_end_reason(cur->end_reason);
  }
  SetTime(last, out->mutable_last_activity_at());
  const absl::Duration timeout =
      j.keep_alive ? absl::ZeroDuration() : JupyterIdleTimeout(d_.config->jupyter, j.role);
  out->set_idle_timeout_s(absl::ToInt64Seconds(timeout));
  out->set_culled(j.culled_at.has_value());
  if (j.culled_at.has_value() && !j.cull_reason.empty()) out->set_end_reason(j.cull_reason);
  if (Ready(c)) {
    out->set_ready(true);
    out->set_url(BaseUrl(c));
  }
  if (pass_ != nullptr && cur != nullptr && cur->state == model::AttemptState::kQueued) {
    if (auto p = pass_->PendingFor(row.chain_id); p.has_value()) {
      out->set_pending_reason(p->reason);
      out->set_pending_detail(p->detail);
    }
  }
}

grpc::Status JupyterServiceImpl::Create(grpc::ServerContext* context,
                                        const hai::v1::JupyterCreateRequest* req,
                                        hai::v1::JupyterCreateResponse* resp) {
  HAI_AUTH(user, context);
  const JupyterConfig& cfg = d_.config->jupyter;
  store::NewChain chain;
  chain.name = req->name().empty() ? kDefaultName : req->name();
  if (!ValidName(chain.name)) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "container name must be 1-", kMaxNameLength,
        " characters of letters, digits, '_', '-' or '.'; got '", chain.name.substr(0, 200), "'")));
  }
  chain.user = user.name;
  chain.kind = model::TaskKind::kJupyter;
  chain.group = req->group().empty() ? cfg.default_group : req->group();
  if (absl::Status image = CheckImageReference(req->image()); !image.ok()) return ToGrpc(image);
  chain.image = req->image();
  chain.gpus_per_node = std::max(req->gpus(), 0);
  store::JupyterRow res;
  res.cpu_millis = req->cpu_millis() == 0 ? cfg.default_cpu_millis : req->cpu_millis();
  res.memory_mib = req->memory_mib() == 0 ? cfg.default_memory_mib : req->memory_mib();
  res.gpus = req->gpus();
  res.keep_alive = req->keep_alive();

  auto hosts = d_.store->LoadHosts();
  auto rows = d_.store->LoadQuotaRows();
  auto groups = d_.store->LoadUserGroups();
  for (const absl::Status& s : {hosts.status(), rows.status(), groups.status()}) {
    if (!s.ok()) return ToGrpc(s);
  }
  std::vector<policy::Node> nodes;
  for (const store::HostRow& h : *hosts) nodes.push_back(h.node);
  const policy::JupyterQuota quota = policy::JupyterQuotaFor(
      policy::ResolveJupyterQuota(*rows, *groups, absl::Now()), user.name, chain.group);
  const policy::JupyterCreateRequest request{user.name,      chain.group, res.cpu_millis,
                                             res.memory_mib, res.gpus,    res.keep_alive};
  auto id = jstore_.Create(chain, res, [&](const std::vector<policy::JupyterContainer>& open) {
    return policy::CheckJupyterCreate(request, open, quota, nodes);
  });
  if (!id.ok()) {
    HAI_LOG(INFO) << "jupyter create by " << user.name << " rejected: " << id.status();
    return ToGrpc(id.status());
  }
  HAI_LOG(INFO) << "user " << user.name << " created jupyter container " << *id << " ("
                << chain.name << " in " << chain.group << ")";
  d_.scheduler->Wake();
  auto c = Load(*id);
  if (!c.ok()) return ToGrpc(c.status());
  Fill(*c, resp->mutable_container());
  return grpc::Status::OK;
}

grpc::Status JupyterServiceImpl::List(grpc::ServerContext* context,
                                      const hai::v1::JupyterListRequest* req,
                                      hai::v1::JupyterListResponse* resp) {
  HAI_AUTH(user, context);
  if (req->all_users() && !user.admin()) {
    return ToGrpc(absl::PermissionDeniedError("listing every user's containers needs admin"));
  }
  // The same chains `hai-cli list` shows, narrowed to kind jupyter.
  auto chains =
      d_.store->ListChains(req->all_users() ? "" : user.name, req->include_finished(), 1000);
  if (!chains.ok()) return ToGrpc(chains.status());
  std::vector<int64_t> ids;
  for (const store::Chain& c : *chains) {
    if (c.row.kind == model::TaskKind::kJupyter) ids.push_back(c.row.chain_id);
  }
  auto rows = jstore_.LoadRows(ids);
  if (!rows.ok()) return ToGrpc(rows.status());
  for (store::Chain& c : *chains) {
    auto it = rows->find(c.row.chain_id);
    if (c.row.kind != model::TaskKind::kJupyter || it == rows->end()) continue;
    Fill({std::move(c), it->second}, resp->add_containers());
  }
  // The caller's quota and use, so `jupyter list` answers "how much more may I create".
  return ToGrpc(AddJupyterQuotaLines(*d_.store, user.name, resp->mutable_quota()));
}

absl::Status AddJupyterQuotaLines(
    store::Store& store, const std::string& user,
    google::protobuf::RepeatedPtrField<hai::v1::JupyterQuotaLine>* out) {
  store::JupyterStore jstore(store.pool());
  auto quota_rows = store.LoadQuotaRows();
  auto groups = store.LoadUserGroups();
  auto open = jstore.LoadOpen();
  for (const absl::Status& s : {quota_rows.status(), groups.status(), open.status()}) {
    if (!s.ok()) return s;
  }
  const policy::ResolvedJupyterQuota resolved =
      policy::ResolveJupyterQuota(*quota_rows, *groups, absl::Now());
  for (const auto& [key, q] : resolved.quota) {
    if (key.user != user) continue;
    hai::v1::JupyterQuotaLine* line = out->Add();
    line->set_group(key.group);
    line->set_containers(q.containers);
    line->set_cpu_millis(q.cpu_millis);
    line->set_memory_mib(q.memory_mib);
    line->set_gpus(static_cast<int32_t>(q.gpus));
    line->set_keep_alive(q.keep_alive);
    for (const auto& [id, j] : *open) {
      if (j.user != user || j.group != key.group) continue;
      line->set_used_containers(line->used_containers() + 1);
      line->set_used_memory_mib(line->used_memory_mib() + j.memory_mib);
      line->set_used_gpus(line->used_gpus() + j.gpus);
      if (j.keep_alive) line->set_used_keep_alive(line->used_keep_alive() + 1);
    }
  }
  return absl::OkStatus();
}

grpc::Status JupyterServiceImpl::Url(grpc::ServerContext* context,
                                     const hai::v1::JupyterUrlRequest* req,
                                     hai::v1::JupyterUrlResponse* resp) {
  HAI_AUTH(user, context);
  auto c = Resolve(user, req->ref());
  if (!c.ok()) return ToGrpc(c.status());
  if (c->chain.row.user == user.name) {
    // Asking for the URL means someone is about to use it: that is activity.
    if (absl::Status s = jstore_.TouchApi(c->chain.row.chain_id); !s.ok()) return ToGrpc(s);
  }
  Fill(*c, resp->mutable_container());
  if (!Ready(*c)) {
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "container ", c->chain.row.name, " is ", c->chain.State(),
        c->chain.State() == model::ChainState::kRunning ? " but its server is not answering yet"
                                                        : "",
        "; try again shortly")));
  }
  std::string url = BaseUrl(*c);
  if (c->chain.row.user == user.name) {
    // The container's own token, never the owner's API token: derived from the caller's
    // current token, so a URL issued before a rotation stops working (its hash is replaced
    // here, and the server asks haid about every request).
    const std::string caller = CallerToken(*context);
    const std::string access = JupyterAccessToken(c->chain.row.chain_id, caller);
    if (absl::Status s =
            jstore_.SetAccessToken(c->chain.row.chain_id, HashToken(access), HashToken(caller));
        !s.ok()) {
      return ToGrpc(s);
    }
    absl::StrAppend(&url, "?token=", access);
  }
  resp->set_url(url);
  return grpc::Status::OK;
}

grpc::Status JupyterServiceImpl::Stop(grpc::ServerContext* context,
                                      const hai::v1::JupyterStopRequest* req,
                                      hai::v1::JupyterStopResponse* resp) {
  HAI_AUTH(user, context);
  auto c = Resolve(user, req->ref());
  if (!c.ok()) return ToGrpc(c.status());
  auto outcome = d_.store->RequestStop(c->chain.row.chain_id, user.name);
  if (!outcome.ok()) return ToGrpc(outcome.status());
  const store::AttemptRow* cur = c->chain.current();
  if (*outcome == store::StopOutcome::kStopRequested && cur != nullptr) {
    d_.notifier->NotifyManager(cur->attempt_id, "stop");
  }
  d_.scheduler->Wake();
  auto fresh = Load(c->chain.row.chain_id);
  if (!fresh.ok()) return ToGrpc(fresh.status());
  Fill(*fresh, resp->mutable_container());
  return grpc::Status::OK;
}

}  // namespace hai::api
