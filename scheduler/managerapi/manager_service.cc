#include "scheduler/managerapi/manager_service.h"

#include "absl/strings/str_cat.h"
#include "common/manager_credential.h"
#include "manager/remote/attempt_proto.h"

namespace hai::managerapi {
namespace {

using manager::remote::ToGrpc;

grpc::Status Invalid(const std::string& why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
}

}  // namespace

grpc::Status ManagerServiceImpl::Authenticate(const grpc::ServerContext& ctx, int64_t attempt_id) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(kManagerCredentialHeader);
  if (attempt_id <= 0 || it == md.end() ||
      !VerifyManagerCredential(key_hex_, attempt_id,
                               std::string_view(it->second.data(), it->second.size()))) {
    ++refused_;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("no valid manager credential for attempt ", attempt_id));
  }
  return grpc::Status::OK;
}

grpc::Status ManagerServiceImpl::RunAs(
    grpc::ServerContext* ctx, int64_t attempt_id, int64_t generation,
    const std::function<absl::Status(manager::AttemptStore&)>& fn) {
  if (grpc::Status a = Authenticate(*ctx, attempt_id); !a.ok()) return a;
  // A write before a claim has nothing to be fenced by.
  if (generation < 0) return Invalid("no manager generation: claim the attempt first");
  return ToGrpc(stores_.Run(attempt_id, {}, generation, fn), ctx);
}

grpc::Status ManagerServiceImpl::Claim(grpc::ServerContext* ctx, const v1::ClaimRequest* req,
                                       v1::ClaimReply* reply) {
  if (grpc::Status a = Authenticate(*ctx, req->attempt_id()); !a.ok()) return a;
  manager::ManagerIdentity me{.pid = req->manager().pid(), .host = req->manager().host()};
  if (req->manager().has_start_time()) me.start_time = req->manager().start_time();
  if (me.pid <= 0 || me.host.empty()) return Invalid("claim without the manager's pid and host");
  absl::Status s = stores_.Run(req->attempt_id(), me, -1, [&](manager::AttemptStore& store) {
    auto claim = store.Claim(req->token_hash());
    if (!claim.ok()) return claim.status();
    reply->set_ended(claim->ended);
    reply->set_generation(claim->generation);
    manager::remote::ToProto(claim->info, reply->mutable_info());
    return absl::OkStatus();
  });
  return ToGrpc(s, ctx);
}

grpc::Status ManagerServiceImpl::Heartbeat(grpc::ServerContext* ctx,
                                           const v1::HeartbeatRequest* req,
                                           v1::HeartbeatReply* reply) {
  if (grpc::Status a = Authenticate(*ctx, req->attempt_id()); !a.ok()) return a;
  if (req->generation() < 0) return Invalid("no manager generation: claim the attempt first");
  auto c = stores_.Heartbeat({.attempt_id = req->attempt_id(), .generation = req->generation()});
  if (!c.ok()) return ToGrpc(c.status(), ctx);
  manager::remote::ToProto(*c, reply);
  return grpc::Status::OK;
}

grpc::Status ManagerServiceImpl::Write(grpc::ServerContext* ctx, const v1::ManagerWrite* req,
                                       v1::ManagerWriteReply* /*reply*/) {
  std::optional<model::PodState> ended_state;
  if (req->has_pod_ended()) {
    ended_state = model::ParsePodState(req->pod_ended().state());
    if (!ended_state.has_value()) {
      return Invalid(absl::StrCat("unknown pod state '", req->pod_ended().state(), "'"));
    }
  }
  if (req->write_case() == v1::ManagerWrite::WRITE_NOT_SET) return Invalid("empty write");
  return RunAs(
      ctx, req->attempt_id(), req->generation(), [&](manager::AttemptStore& store) -> absl::Status {
        switch (req->write_case()) {
          case v1::ManagerWrite::kSetTokenHash: return store.SetTokenHash(req->set_token_hash());
          case v1::ManagerWrite::kPodStartIntended:
            return store.PodStartIntended(req->pod_start_intended());
          case v1::ManagerWrite::kPodStarted:
            return store.PodStarted(req->pod_started().rank(), req->pod_started().runtime_id(),
                                    req->pod_started().waiting());
          case v1::ManagerWrite::kPodWaiting:
            return store.PodWaiting(req->pod_waiting().rank(), req->pod_waiting().waiting());
          case v1::ManagerWrite::kAttemptRunning: return store.AttemptRunning();
          case v1::ManagerWrite::kPodEnded: {
            std::optional<int> code;
            if (req->pod_ended().has_exit_code()) code = req->pod_ended().exit_code();
            return store.PodEnded(req->pod_ended().rank(), *ended_state, code);
          }
          case v1::ManagerWrite::kJupyterAddress:
            return store.ReportJupyterAddress(req->jupyter_address().host(),
                                              req->jupyter_address().port());
          case v1::ManagerWrite::kJupyterStatus: {
            std::optional<absl::Time> activity;
            if (req->jupyter_status().has_activity_unix_micros()) {
              activity = absl::FromUnixMicros(req->jupyter_status().activity_unix_micros());
            }
            return store.ReportJupyterStatus(activity);
          }
          case v1::ManagerWrite::WRITE_NOT_SET: break;
        }
        return absl::InvalidArgumentError("empty write");
      });
}

grpc::Status ManagerServiceImpl::Finish(grpc::ServerContext* ctx, const v1::FinishRequest* req,
                                        v1::FinishReply* reply) {
  auto state = model::ParseAttemptState(req->state());
  if (!state.has_value() || !model::IsEnded(*state)) {
    return Invalid(absl::StrCat("'", req->state(), "' is not an ended attempt state"));
  }
  manager::AttemptOutcome outcome{.state = *state, .end_reason = req->end_reason()};
  outcome.self_inflicted = req->self_inflicted();
  if (req->has_exit_code()) outcome.exit_code = req->exit_code();
  return RunAs(ctx, req->attempt_id(), req->generation(), [&](manager::AttemptStore& store) {
    auto written = store.Finish(outcome);
    if (!written.ok()) return written.status();
    reply->set_state(std::string(model::Name(*written)));
    return absl::OkStatus();
  });
}

grpc::Status ManagerServiceImpl::StopActor(grpc::ServerContext* ctx, const v1::AttemptRef* req,
                                           v1::StopActorReply* reply) {
  return RunAs(ctx, req->attempt_id(), req->generation(), [&](manager::AttemptStore& store) {
    reply->set_actor(store.StopActor());
    return absl::OkStatus();
  });
}

grpc::Status ManagerServiceImpl::LoadJupyter(grpc::ServerContext* ctx, const v1::AttemptRef* req,
                                             v1::JupyterInfoReply* reply) {
  return RunAs(ctx, req->attempt_id(), req->generation(), [&](manager::AttemptStore& store) {
    auto info = store.LoadJupyter();
    if (!info.ok()) return info.status();
    reply->set_cpu_millis(info->cpu_millis);
    reply->set_memory_mib(info->memory_mib);
    reply->set_gpus(info->gpus);
    return absl::OkStatus();
  });
}

}  // namespace hai::managerapi
