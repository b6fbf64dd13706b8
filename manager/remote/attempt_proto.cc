#include "manager/remote/attempt_proto.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hai::manager::remote {
namespace {

template <typename T>
absl::StatusOr<T> Parse(std::optional<T> v, const std::string& what, const std::string& name) {
  if (!v.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown ", what, " '", name, "'"));
  }
  return *v;
}

void EnvToProto(const EnvList& env, google::protobuf::RepeatedPtrField<v1::ManagerEnv>* out) {
  for (const auto& [k, v] : env) {
    v1::ManagerEnv* e = out->Add();
    e->set_name(k);
    e->set_value(v);
  }
}

EnvList EnvFromProto(const google::protobuf::RepeatedPtrField<v1::ManagerEnv>& in) {
  EnvList env;
  for (const v1::ManagerEnv& e : in) env.emplace_back(e.name(), e.value());
  return env;
}

}  // namespace

void ToProto(const AttemptInfo& a, v1::ManagerAttemptInfo* out) {
  out->set_attempt_id(a.attempt_id);
  out->set_chain_id(a.chain_id);
  out->set_attempt_no(a.attempt_no);
  out->set_tier(a.tier);
  out->set_state(std::string(model::Name(a.state)));
  out->set_task_token_hash(a.task_token_hash);
  out->set_chain_name(a.chain_name);
  out->set_user_name(a.user_name);
  out->set_kind(std::string(model::Name(a.kind)));
  out->set_node_group(a.node_group);
  out->set_entrypoint(a.entrypoint);
  for (const std::string& arg : a.args) out->add_args(arg);
  out->set_workdir(a.workdir);
  EnvToProto(a.chain_env, out->mutable_chain_env());
  out->set_whole_life_state(a.whole_life_state);
  out->set_self_requeues(a.self_requeues);
  out->set_python(a.python);
  EnvToProto(a.train_env, out->mutable_train_env());
  out->set_image(a.image);
  for (const PodInfo& p : a.pods) {
    v1::ManagerPod* pod = out->add_pods();
    pod->set_rank(p.rank);
    pod->set_node(p.node);
    for (int g : p.gpus) pod->add_gpus(g);
    pod->set_state(std::string(model::Name(p.state)));
    if (p.pid.has_value()) pod->set_pid(*p.pid);
    if (p.exit_code.has_value()) pod->set_exit_code(*p.exit_code);
    if (p.start_generation.has_value()) pod->set_start_generation(*p.start_generation);
  }
  out->set_user_uid(a.user_uid);
  out->set_user_gid(a.user_gid);
  for (int64_t g : a.user_supplementary_gids) out->add_user_supplementary_gids(g);
  for (const std::string& g : a.user_groups) out->add_user_groups(g);
  for (const storage::Mount& m : a.mounts) {
    v1::ManagerMount* mount = out->add_mounts();
    mount->set_host_path(m.host_path);
    mount->set_mount_path(m.mount_path);
    mount->set_read_only(m.read_only);
    mount->set_type(m.type);
    mount->set_row_id(m.row_id);
  }
  for (const storage::StorageProblem& p : a.storage_problems) {
    v1::ManagerStorageProblem* problem = out->add_storage_problems();
    problem->set_row_id(p.row_id);
    problem->set_reason(p.reason);
  }
}

absl::StatusOr<AttemptInfo> FromProto(const v1::ManagerAttemptInfo& p) {
  AttemptInfo a;
  a.attempt_id = p.attempt_id();
  a.chain_id = p.chain_id();
  a.attempt_no = p.attempt_no();
  a.tier = p.tier();
  auto state = Parse(model::ParseAttemptState(p.state()), "attempt state", p.state());
  if (!state.ok()) return state.status();
  a.state = *state;
  a.task_token_hash = p.task_token_hash();
  a.chain_name = p.chain_name();
  a.user_name = p.user_name();
  auto kind = Parse(model::ParseTaskKind(p.kind()), "task kind", p.kind());
  if (!kind.ok()) return kind.status();
  a.kind = *kind;
  a.node_group = p.node_group();
  a.entrypoint = p.entrypoint();
  a.args.assign(p.args().begin(), p.args().end());
  a.workdir = p.workdir();
  a.chain_env = EnvFromProto(p.chain_env());
  a.whole_life_state = p.whole_life_state();
  a.self_requeues = p.self_requeues();
  a.python = p.python();
  a.train_env = EnvFromProto(p.train_env());
  a.image = p.image();
  for (const v1::ManagerPod& pp : p.pods()) {
    PodInfo pod;
    pod.rank = pp.rank();
    pod.node = pp.node();
    pod.gpus.assign(pp.gpus().begin(), pp.gpus().end());
    auto ps = Parse(model::ParsePodState(pp.state()), "pod state", pp.state());
    if (!ps.ok()) return ps.status();
    pod.state = *ps;
    if (pp.has_pid()) pod.pid = pp.pid();
    if (pp.has_exit_code()) pod.exit_code = pp.exit_code();
    if (pp.has_start_generation()) pod.start_generation = pp.start_generation();
    a.pods.push_back(std::move(pod));
  }
  a.user_uid = p.user_uid();
  a.user_gid = p.user_gid();
  a.user_supplementary_gids.assign(p.user_supplementary_gids().begin(),
                                   p.user_supplementary_gids().end());
  a.user_groups.assign(p.user_groups().begin(), p.user_groups().end());
  for (const v1::ManagerMount& m : p.mounts()) {
    a.mounts.push_back({.host_path = m.host_path(),
                        .mount_path = m.mount_path(),
                        .read_only = m.read_only(),
                        .type = m.type(),
                        .row_id = m.row_id()});
  }
  for (const v1::ManagerStorageProblem& sp : p.storage_problems()) {
    a.storage_problems.push_back({.row_id = sp.row_id(), .reason = sp.reason()});
  }
  return a;
}

void ToProto(const ControlState& c, v1::HeartbeatReply* out) {
  out->set_ended_elsewhere(c.ended_elsewhere);
  out->set_stop_requested(c.stop_requested);
  out->set_suspend_requested(c.suspend_requested);
  out->set_suspend_reason(c.suspend_reason);
  out->set_go_suspend(c.go_suspend);
  out->set_seconds_since_suspend_request(c.seconds_since_suspend_request);
}

ControlState FromProto(const v1::HeartbeatReply& p) {
  ControlState c;
  c.ended_elsewhere = p.ended_elsewhere();
  c.stop_requested = p.stop_requested();
  c.suspend_requested = p.suspend_requested();
  c.suspend_reason = p.suspend_reason();
  c.go_suspend = p.go_suspend();
  c.seconds_since_suspend_request = p.seconds_since_suspend_request();
  return c;
}

grpc::Status ToGrpc(const absl::Status& s, grpc::ServerContext* context) {
  if (s.ok()) return grpc::Status::OK;
  if (IsSuperseded(s) && context != nullptr) {
    context->AddTrailingMetadata(kSupersededTrailer,
                                 std::string(*s.GetPayload(kSupersededPayload)));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s, const grpc::ClientContext& context, int64_t mine) {
  if (s.ok()) return absl::OkStatus();
  if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    const auto& trailers = context.GetServerTrailingMetadata();
    if (auto it = trailers.find(kSupersededTrailer); it != trailers.end()) {
      int64_t current = 0;
      if (absl::SimpleAtoi(std::string(it->second.data(), it->second.size()), &current)) {
        return ManagerSuperseded(mine, current);
      }
    }
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace hai::manager::remote
