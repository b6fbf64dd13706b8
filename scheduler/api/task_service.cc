// TaskService: submit, read, control and stream logs of chains.
#include <sys/stat.h>

#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/model/proto_enums.h"
#include "common/model/states.h"
#include "scheduler/api/auth.h"
#include "scheduler/api/convert.h"
#include "scheduler/api/grpc_status.h"
#include "scheduler/api/log_stream.h"
#include "scheduler/api/services.h"
#include "scheduler/api/submit_validation.h"
#include "scheduler/loop/snapshot_builder.h"
#include "scheduler/policy/tier.h"

namespace hai::api {
namespace {

// Authenticates or returns the gRPC error from the enclosing handler.
#define HAI_AUTH(user_var, context)                                  \
  auto user_var##_or = Authenticate(*(context), *d_.store);           \
  if (!user_var##_or.ok()) return ToGrpc(user_var##_or.status());    \
  const store::User& user_var = *user_var##_or

#define HAI_RESOLVE(chain_var, user, ref)                            \
  auto chain_var##_or = Resolve(user, ref);                          \
  if (!chain_var##_or.ok()) return ToGrpc(chain_var##_or.status());  \
  store::Chain& chain_var = *chain_var##_or

bool IsFile(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool IsDirectory(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Exit status `hai-cli logs -f` should report for a finished chain.
int ChainExitCode(const store::Chain& c) {
  if (c.row.exit_code.has_value()) return *c.row.exit_code;
  return c.row.final_state == model::ChainState::kSucceeded ? 0 : 1;
}

}  // namespace

absl::StatusOr<TaskServiceImpl::Views> TaskServiceImpl::AdmissionViews() {
  Views v;
  // Nodes as the loop last read them (it reloads hosts on every admin edit's NOTIFY);
  // before the first pass, from Postgres. At 10,000 hosts a read per submit would cost more
  // than the submit itself.
  v.nodes = d_.views->Nodes();
  if (v.nodes == nullptr) {
    auto hosts = d_.store->LoadHosts();
    if (!hosts.ok()) return hosts.status();
    v.nodes = std::make_shared<std::vector<policy::Node>>(NodesOf(*hosts));
  }
  // Quota as resolved by the last pass; before the first pass, resolve it here.
  // Shared, not copied: with thousands of users the view is large.
  v.quota = d_.views->QuotaShared();
  if (d_.views->LastPassAt() == absl::InfinitePast() || v.quota->quota.empty()) {
    auto rows = d_.store->LoadQuotaRows();
    auto groups = d_.store->LoadUserGroups();
    if (!rows.ok()) return rows.status();
    if (!groups.ok()) return groups.status();
    auto resolved = std::make_shared<QuotaView>();
    resolved->quota = policy::ResolveQuota(*rows, *groups, absl::Now()).quota;
    v.quota = std::move(resolved);
  }
  return v;
}

absl::StatusOr<store::NewChain> TaskServiceImpl::CheckOpenTaskCap(store::NewChain chain) {
  const int cap = d_.config->scheduler.max_open_tasks_per_user;
  if (cap == 0) return chain;
  auto open = d_.store->CountOpenChains(chain.user, cap);
  if (!open.ok()) return open.status();
  // Concurrent submits of one user can each pass before any is written: the cap can be
  // overshot by the number of that user's submits in flight, never more.
  if (*open >= cap) {
    return absl::ResourceExhaustedError(
        absl::StrCat("user '", chain.user, "' has ", *open,
                     " open tasks, the most allowed "
                     "(scheduler.max_open_tasks_per_user); stop some or wait for them to finish"));
  }
  return chain;
}

absl::StatusOr<store::Chain> TaskServiceImpl::Resolve(const store::User& user,
                                                      const hai::v1::TaskRef& ref) {
  int64_t id = ref.chain_id();
  if (id == 0) {
    if (ref.name().empty()) return absl::InvalidArgumentError("give a task id or name");
    auto found = d_.store->FindChainByName(user.name, ref.name());
    if (!found.ok()) return found.status();
    id = *found;
  }
  auto chain = d_.store->GetChain(id);
  if (!chain.ok()) return chain.status();
  if (chain->row.user != user.name && !user.admin()) {
    return absl::PermissionDeniedError(
        absl::StrCat("task ", id, " belongs to another user"));
  }
  return chain;
}

void TaskServiceImpl::Fill(const store::Chain& chain, hai::v1::Task* out) {
  ToProto(chain, d_.views->PendingFor(chain.row.chain_id), d_.log_dir, out);
}

grpc::Status TaskServiceImpl::WakeAndReply(int64_t chain_id, hai::v1::Task* out) {
  // A control call changed the chain: let the loop act now, and answer with the chain as it
  // is after the change.
  d_.scheduler->Wake();
  auto fresh = d_.store->GetChain(chain_id);
  if (!fresh.ok()) return ToGrpc(fresh.status());
  Fill(*fresh, out);
  return grpc::Status::OK;
}

grpc::Status TaskServiceImpl::Submit(grpc::ServerContext* context,
                                     const hai::v1::SubmitRequest* req,
                                     hai::v1::SubmitResponse* resp) {
  HAI_AUTH(user, context);
  auto views = AdmissionViews();
  if (!views.ok()) return ToGrpc(views.status());
  SubmitContext ctx{&d_.config->scheduler, user.name, views->nodes.get(),
                    &views->quota->quota,  IsFile,    IsDirectory};
  auto chain = ValidateSubmit(*req, ctx);
  if (chain.ok() && !chain->environment.empty()) {
    auto env = d_.store->EnvironmentExists(chain->environment);
    if (!env.ok()) chain = env.status();
  }
  if (chain.ok()) chain = CheckOpenTaskCap(*std::move(chain));
  if (!chain.ok()) {
    ++d_.metrics->rejected_submits;
    return ToGrpc(chain.status());
  }
  auto created = d_.store->CreateChain(*chain, chain->priority);
  if (!created.ok()) {
    ++d_.metrics->rejected_submits;
    return ToGrpc(created.status());
  }
  ++d_.metrics->submits;
  d_.scheduler->Wake();
  HAI_LOG(INFO) << "user " << user.name << " submitted task " << created->row.chain_id << " ("
                << created->row.name << ", " << created->row.nodes << " nodes)";
  Fill(*created, resp->mutable_task());
  return grpc::Status::OK;
}

grpc::Status TaskServiceImpl::Get(grpc::ServerContext* context, const hai::v1::GetRequest* req,
                                  hai::v1::GetResponse* resp) {
  HAI_AUTH(user, context);
  HAI_RESOLVE(chain, user, req->task());
  Fill(chain, resp->mutable_task());
  return grpc::Status::OK;
}

grpc::Status TaskServiceImpl::List(grpc::ServerContext* context, const hai::v1::ListRequest* req,
                                   hai::v1::ListResponse* resp) {
  HAI_AUTH(user, context);
  if (req->all_users() && !user.admin()) {
    return ToGrpc(absl::PermissionDeniedError("listing every user's tasks needs the admin role"));
  }
  if (req->limit() < 0 || req->limit() > 1000) {
    return ToGrpc(absl::InvalidArgumentError("limit must be between 1 and 1000"));
  }
  auto chains = d_.store->ListChains(req->all_users() ? "" : user.name, req->include_finished(),
                                     req->limit() == 0 ? 50 : req->limit());
  if (!chains.ok()) return ToGrpc(chains.status());
  for (const store::Chain& c : *chains) Fill(c, resp->add_tasks());
  return grpc::Status::OK;
}

grpc::Status TaskServiceImpl::Stop(grpc::ServerContext* context, const hai::v1::StopRequest* req,
                                   hai::v1::StopResponse* resp) {
  HAI_AUTH(user, context);
  HAI_RESOLVE(chain, user, req->task());
  auto outcome = d_.store->RequestStop(chain.row.chain_id, user.name);
  if (!outcome.ok()) return ToGrpc(outcome.status());
  if (*outcome == store::StopOutcome::kStopRequested) {
    const store::AttemptRow* cur = chain.current();
    if (cur != nullptr) d_.notifier->NotifyManager(cur->attempt_id, "stop");
  }
  return WakeAndReply(chain.row.chain_id, resp->mutable_task());
}

grpc::Status TaskServiceImpl::Suspend(grpc::ServerContext* context,
                                      const hai::v1::SuspendRequest* req,
                                      hai::v1::SuspendResponse* resp) {
  HAI_AUTH(user, context);
  HAI_RESOLVE(chain, user, req->task());
  auto attempt = d_.store->HoldChain(chain.row.chain_id, user.name);
  if (!attempt.ok()) return ToGrpc(attempt.status());
  if (*attempt != 0) d_.notifier->NotifyManager(*attempt, "suspend");
  return WakeAndReply(chain.row.chain_id, resp->mutable_task());
}

grpc::Status TaskServiceImpl::Resume(grpc::ServerContext* context,
                                     const hai::v1::ResumeRequest* req,
                                     hai::v1::ResumeResponse* resp) {
  HAI_AUTH(user, context);
  HAI_RESOLVE(chain, user, req->task());
  absl::Status s = d_.store->ResumeChain(chain.row.chain_id, user.name);
  if (!s.ok()) return ToGrpc(s);
  return WakeAndReply(chain.row.chain_id, resp->mutable_task());
}

grpc::Status TaskServiceImpl::SetPriority(grpc::ServerContext* context,
                                          const hai::v1::SetPriorityRequest* req,
                                          hai::v1::SetPriorityResponse* resp) {
  HAI_AUTH(user, context);
  HAI_RESOLVE(chain, user, req->task());
  if (!req->has_priority()) return ToGrpc(absl::InvalidArgumentError("priority is required"));
  absl::StatusOr<int> priority = RequestedPriority(req->priority());
  if (!priority.ok()) return ToGrpc(priority.status());
  // Quota of the owner at the new tier (policy::CheckPriorityChange). Checked against the
  // last pass's use: a task that started since then is caught by the next change or, with
  // suspend_over_quota, by the loop.
  auto views = AdmissionViews();
  if (!views.ok()) return ToGrpc(views.status());
  const store::AttemptRow* cur = chain.current();
  const bool holding = cur != nullptr && model::HoldsNodes(cur->state);
  const policy::PriorityChange change{
      {chain.row.user, chain.row.group, *priority, chain.row.nodes, chain.row.gpus_per_node},
      holding,
      holding ? cur->tier : 0};
  if (absl::Status s = policy::CheckPriorityChange(change, *views->nodes, views->quota->quota,
                                                   views->quota->used_nodes);
      !s.ok()) {
    return ToGrpc(s);
  }
  absl::Status s = d_.store->SetChainPriority(chain.row.chain_id, *priority, user.name);
  if (!s.ok()) return ToGrpc(s);
  return WakeAndReply(chain.row.chain_id, resp->mutable_task());
}

grpc::Status TaskServiceImpl::Queue(grpc::ServerContext* context, const hai::v1::QueueRequest* req,
                                    hai::v1::QueueResponse* resp) {
  HAI_AUTH(user, context);
  for (const PendingView& p : d_.views->Queue()) {
    if (!req->all_users() && p.user != user.name) continue;
    if (!req->group().empty() && p.group != req->group()) continue;
    hai::v1::QueueEntry* e = resp->add_entries();
    e->set_chain_id(p.chain_id);
    e->set_name(p.name);
    e->set_user(p.user);
    e->set_tier(model::PriorityToProto(p.tier));
    e->set_position(p.position);
    e->set_reason(p.reason);
    e->set_detail(p.detail);
    e->set_nodes(p.nodes);
    e->set_group(p.group);
  }
  return grpc::Status::OK;
}

grpc::Status TaskServiceImpl::StreamLogs(grpc::ServerContext* context,
                                         const hai::v1::StreamLogsRequest* req,
                                         grpc::ServerWriter<hai::v1::LogChunk>* writer) {
  HAI_AUTH(user, context);
  HAI_RESOLVE(chain, user, req->task());
  // A follow holds this thread until the task ends: counted per user and overall before any
  // work, so one user's (or everyone's) followers cannot take every handler thread.
  std::optional<FollowLimiter::Slot> slot;
  if (req->follow()) {
    absl::Status admitted = follows_.Acquire(user.name, &slot);
    if (!admitted.ok()) return ToGrpc(admitted);
  }
  const size_t chunk_bytes = d_.config != nullptr
                                 ? static_cast<size_t>(d_.config->grpc.log_chunk_kib) * 1024
                                 : kDefaultLogChunkBytes;
  LogFollower follower(d_.log_dir, chain.row.chain_id, req->rank(), chunk_bytes);
  // One chunk at a time: each is written (and flow-controlled) before the next is read.
  auto send = [&](LogPiece&& p) {
    hai::v1::LogChunk chunk;
    chunk.set_rank(p.rank);
    chunk.set_attempt_no(p.attempt_no);
    *chunk.mutable_text() = std::move(p.text);
    return writer->Write(chunk);
  };
  auto wanted = [&](int attempt_no) {
    return req->attempt_no() < 0 || req->attempt_no() == attempt_no;
  };
  if (!req->follow()) {
    for (const store::AttemptRow& a : chain.attempts) {
      if (!wanted(a.attempt_no)) continue;
      if (!follower.Read(a.attempt_no, true, send)) return grpc::Status::OK;
    }
    return grpc::Status::OK;
  }
  // Follow: poll the files of every attempt (a suspended chain continues in a new attempt)
  // until the chain has finished and its logs are drained. A client that went away
  // (cancelled, or its connection dropped by the server's keepalive) ends the loop.
  // The files are polled every 200 ms, the chain's row (a Postgres read) once a second:
  // each open follow costs Postgres one statement a second.
  std::optional<store::Chain> fresh;
  absl::Time next_state_read = absl::InfinitePast();
  while (!context->IsCancelled()) {
    if (const absl::Time now = absl::Now(); now >= next_state_read) {
      auto read = d_.store->GetChain(chain.row.chain_id);
      if (!read.ok()) return ToGrpc(read.status());
      fresh = *std::move(read);
      next_state_read = now + absl::Seconds(1);
    }
    const bool finished = fresh->row.final_state.has_value();
    for (const store::AttemptRow& a : fresh->attempts) {
      if (!wanted(a.attempt_no)) continue;
      if (!follower.Read(a.attempt_no, finished, send)) return grpc::Status::OK;
    }
    if (finished) {
      hai::v1::LogChunk last;
      last.set_finished(true);
      last.set_final_state(model::ToProto(*fresh->row.final_state));
      last.set_exit_code(ChainExitCode(*fresh));
      writer->Write(last);
      return grpc::Status::OK;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return grpc::Status::CANCELLED;
}

}  // namespace hai::api
