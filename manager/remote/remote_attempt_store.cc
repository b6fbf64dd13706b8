#include "manager/remote/remote_attempt_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/manager_credential.h"
#include "manager/remote/attempt_proto.h"

namespace hai::manager {
namespace {

// haid is not there (restarting, a replica gone, overloaded): worth another endpoint.
bool NoHaid(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeManagerChannel(const std::string& endpoint, bool tls,
                                                  const std::string& ca_pem) {
  grpc::ChannelArguments args;
  // The store retries itself, across endpoints; gRPC's own retry buffers are not needed.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // One small unary call per heartbeat: no bandwidth probing, no channel tracing.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
  args.SetInt(GRPC_ARG_MAX_CHANNEL_TRACE_EVENT_MEMORY_PER_NODE, 0);
  // A reconnect after a haid restart: quickly, but not in a tight loop.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  // Its own subchannel: a channel made after a failure starts without the old one's backoff.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!tls || endpoint.rfind("unix:", 0) == 0) {
    return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;  // "" = gRPC's default roots
  return grpc::CreateCustomChannel(endpoint, grpc::SslCredentials(ssl), args);
}

RemoteAttemptStore::RemoteAttemptStore(int64_t attempt_id, ManagerIdentity me,
                                       RemoteStoreOptions options, Clock& clock)
    : attempt_id_(attempt_id), me_(std::move(me)), opt_(std::move(options)), clock_(clock) {
  stubs_.resize(opt_.endpoints.size());
}

v1::ManagerService::Stub& RemoteAttemptStore::StubAt(size_t i) {
  if (stubs_[i] == nullptr) {
    stubs_[i] = v1::ManagerService::NewStub(MakeManagerChannel(opt_.endpoints[i], opt_.tls, opt_.ca_pem));
  }
  return *stubs_[i];
}

absl::Status RemoteAttemptStore::Call(
    const char* what, bool retry,
    const std::function<grpc::Status(v1::ManagerService::Stub&, grpc::ClientContext&)>& rpc) {
  if (opt_.endpoints.empty()) return absl::FailedPreconditionError("no haid endpoint configured");
  const absl::Time give_up = clock_.Now() + opt_.retry_for;
  absl::Duration backoff = opt_.backoff_initial;
  size_t tried = 0;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + opt_.call_timeout));
    context.AddMetadata(kManagerCredentialHeader, opt_.credential);
    const grpc::Status s = rpc(StubAt(current_), context);
    if (!NoHaid(s.error_code())) return remote::FromGrpc(s, context, generation_);
    HAI_LOG(WARNING) << what << " via " << opt_.endpoints[current_] << ": " << s.error_message()
                     << " (" << s.error_code() << ")";
    // The next call to this endpoint opens a new channel, which connects at once instead of
    // waiting out the reconnect backoff of a channel that saw haid go (a restarted haid is
    // answered as soon as it listens).
    stubs_[current_].reset();
    current_ = (current_ + 1) % opt_.endpoints.size();
    ++tried;
    const bool stop = opt_.shutdown_requested && opt_.shutdown_requested();
    if ((!retry && tried >= opt_.endpoints.size()) || stop || clock_.Now() >= give_up) {
      return remote::FromGrpc(s, context, generation_);
    }
    // A full round of endpoints without an answer: wait before the next round.
    if (tried % opt_.endpoints.size() == 0) {
      clock_.SleepFor(backoff);
      backoff = std::min(backoff * 2, opt_.backoff_max);
    }
  }
}

absl::StatusOr<ClaimResult> RemoteAttemptStore::Claim(const std::string& token_hash) {
  v1::ClaimRequest req;
  req.set_attempt_id(attempt_id_);
  req.set_token_hash(token_hash);
  req.mutable_manager()->set_pid(me_.pid);
  req.mutable_manager()->set_host(me_.host);
  if (me_.start_time.has_value()) req.mutable_manager()->set_start_time(*me_.start_time);
  v1::ClaimReply reply;
  absl::Status s = Call("claim", true, [&](auto& stub, grpc::ClientContext& ctx) {
    reply.Clear();
    return stub.Claim(&ctx, req, &reply);
  });
  if (!s.ok()) return s;
  ClaimResult result;
  result.ended = reply.ended();
  result.generation = reply.generation();
  auto info = remote::FromProto(reply.info());
  if (!info.ok()) return info.status();
  result.info = *std::move(info);
  if (!result.ended) generation_ = result.generation;
  return result;
}

absl::Status RemoteAttemptStore::Write(v1::ManagerWrite& write, bool retry) {
  write.set_attempt_id(attempt_id_);
  write.set_generation(generation_);
  v1::ManagerWriteReply reply;
  return Call("write", retry, [&](auto& stub, grpc::ClientContext& ctx) {
    return stub.Write(&ctx, write, &reply);
  });
}

absl::Status RemoteAttemptStore::SetTokenHash(const std::string& token_hash) {
  v1::ManagerWrite w;
  w.set_set_token_hash(token_hash);
  return Write(w);
}

absl::StatusOr<ControlState> RemoteAttemptStore::Heartbeat() {
  v1::HeartbeatRequest req;
  req.set_attempt_id(attempt_id_);
  req.set_generation(generation_);
  v1::HeartbeatReply reply;
  absl::Status s = Call("heartbeat", false, [&](auto& stub, grpc::ClientContext& ctx) {
    return stub.Heartbeat(&ctx, req, &reply);
  });
  if (!s.ok()) return s;
  return remote::FromProto(reply);
}

absl::Status RemoteAttemptStore::PodStartIntended(int rank) {
  v1::ManagerWrite w;
  w.set_pod_start_intended(rank);
  return Write(w);
}

absl::Status RemoteAttemptStore::PodStarted(int rank, int64_t runtime_id, bool waiting) {
  v1::ManagerWrite w;
  w.mutable_pod_started()->set_rank(rank);
  w.mutable_pod_started()->set_runtime_id(runtime_id);
  w.mutable_pod_started()->set_waiting(waiting);
  return Write(w);
}

absl::Status RemoteAttemptStore::PodWaiting(int rank, bool waiting) {
  v1::ManagerWrite w;
  w.mutable_pod_waiting()->set_rank(rank);
  w.mutable_pod_waiting()->set_waiting(waiting);
  return Write(w);
}

absl::Status RemoteAttemptStore::AttemptRunning() {
  v1::ManagerWrite w;
  w.set_attempt_running(true);
  return Write(w);
}

absl::Status RemoteAttemptStore::PodEnded(int rank, model::PodState pod_state,
                                          std::optional<int> exit_code) {
  v1::ManagerWrite w;
  w.mutable_pod_ended()->set_rank(rank);
  w.mutable_pod_ended()->set_state(std::string(model::Name(pod_state)));
  if (exit_code.has_value()) w.mutable_pod_ended()->set_exit_code(*exit_code);
  return Write(w);
}

absl::StatusOr<model::AttemptState> RemoteAttemptStore::Finish(const AttemptOutcome& outcome) {
  v1::FinishRequest req;
  req.set_attempt_id(attempt_id_);
  req.set_generation(generation_);
  req.set_state(std::string(model::Name(outcome.state)));
  if (outcome.exit_code.has_value()) req.set_exit_code(*outcome.exit_code);
  req.set_end_reason(outcome.end_reason);
  req.set_self_inflicted(outcome.self_inflicted);
  v1::FinishReply reply;
  absl::Status s = Call("finish", true, [&](auto& stub, grpc::ClientContext& ctx) {
    return stub.Finish(&ctx, req, &reply);
  });
  if (!s.ok()) return s;
  auto state = model::ParseAttemptState(reply.state());
  if (!state.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown attempt state '", reply.state(), "'"));
  }
  return *state;
}

std::string RemoteAttemptStore::StopActor() {
  v1::AttemptRef req;
  req.set_attempt_id(attempt_id_);
  req.set_generation(generation_);
  v1::StopActorReply reply;
  absl::Status s = Call("stop actor", false, [&](auto& stub, grpc::ClientContext& ctx) {
    return stub.StopActor(&ctx, req, &reply);
  });
  return s.ok() ? reply.actor() : "";
}

absl::StatusOr<JupyterPodInfo> RemoteAttemptStore::LoadJupyter() {
  v1::AttemptRef req;
  req.set_attempt_id(attempt_id_);
  req.set_generation(generation_);
  v1::JupyterInfoReply reply;
  absl::Status s = Call("load jupyter", true, [&](auto& stub, grpc::ClientContext& ctx) {
    return stub.LoadJupyter(&ctx, req, &reply);
  });
  if (!s.ok()) return s;
  JupyterPodInfo info;
  info.cpu_millis = reply.cpu_millis();
  info.memory_mib = reply.memory_mib();
  info.gpus = reply.gpus();
  return info;
}

absl::Status RemoteAttemptStore::ReportJupyterAddress(const std::string& host, int port) {
  v1::ManagerWrite w;
  w.mutable_jupyter_address()->set_host(host);
  w.mutable_jupyter_address()->set_port(port);
  return Write(w, /*retry=*/false);
}

absl::Status RemoteAttemptStore::ReportJupyterStatus(std::optional<absl::Time> activity) {
  v1::ManagerWrite w;
  auto* st = w.mutable_jupyter_status();
  if (activity.has_value()) st->set_activity_unix_micros(absl::ToUnixMicros(*activity));
  return Write(w, /*retry=*/false);
}

}  // namespace hai::manager
