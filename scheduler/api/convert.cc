#include "scheduler/api/convert.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/model/proto_enums.h"
#include "common/model/states.h"

namespace hai::api {
namespace {

void SetTime(const absl::Time& t, google::protobuf::Timestamp* out) {
  *out = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}
void SetTime(const std::optional<absl::Time>& t, google::protobuf::Timestamp* out) {
  if (t.has_value()) SetTime(*t, out);
}

void ToProto(const store::AttemptRow& a, hai::v1::Attempt* out) {
  out->set_attempt_id(a.attempt_id);
  out->set_attempt_no(a.attempt_no);
  out->set_state(model::ToProto(a.state));
  out->set_tier(model::PriorityToProto(a.tier));
  SetTime(a.queued_at, out->mutable_queued_at());
  SetTime(a.started_at, out->mutable_started_at());
  SetTime(a.ended_at, out->mutable_ended_at());
  out->set_end_reason(a.end_reason);
  if (a.exit_code.has_value()) {
    out->set_exit_code(*a.exit_code);
    out->set_has_exit_code(true);
  }
  out->set_suspend_requested(a.suspend_requested_at.has_value());
  for (const store::PodRow& p : a.pods) {
    hai::v1::Pod* pod = out->add_pods();
    pod->set_rank(p.rank);
    pod->set_node(p.node);
    for (int g : p.gpus) pod->add_gpus(g);
    pod->set_state(model::ToProto(p.state));
    if (p.exit_code.has_value()) {
      pod->set_exit_code(*p.exit_code);
      pod->set_has_exit_code(true);
    }
    pod->set_pid(p.pid.value_or(0));
  }
}

}  // namespace

void ToProto(const store::Chain& chain, const std::optional<PendingView>& pending,
             const std::string& log_dir, hai::v1::Task* out) {
  const store::ChainRow& c = chain.row;
  out->set_chain_id(c.chain_id);
  out->set_name(c.name);
  out->set_user(c.user);
  out->set_state(model::ToProto(chain.State()));
  out->set_group(c.group);
  out->set_nodes(c.nodes);
  out->set_gpus_per_node(c.gpus_per_node);
  out->set_time_limit_s(c.time_limit_s);
  out->set_priority(model::PriorityToProto(c.priority));
  out->set_entrypoint(c.entrypoint);
  for (const std::string& a : c.args) out->add_args(a);
  SetTime(c.first_submit_at, out->mutable_first_submit_at());
  SetTime(c.finished_at, out->mutable_finished_at());
  out->set_whole_life_state(c.whole_life_state);
  out->set_kind(std::string(model::Name(c.kind)));
  out->set_log_dir(absl::StrCat(log_dir, "/", c.chain_id));
  if (c.exit_code.has_value()) {
    out->set_exit_code(*c.exit_code);
    out->set_has_exit_code(true);
  }
  for (const store::AttemptRow& a : chain.attempts) ToProto(a, out->add_attempts());
  if (pending.has_value() && !c.final_state.has_value()) {
    out->set_pending_reason(pending->reason);
    out->set_pending_detail(pending->detail);
    out->set_queue_position(pending->position);
  } else if (c.hold && !c.final_state.has_value()) {
    out->set_pending_reason("HELD");
    out->set_pending_detail("suspended by the user; `hai-cli resume` requeues it");
  }
}

}  // namespace hai::api
