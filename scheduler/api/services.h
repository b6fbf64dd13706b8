// gRPC services of hai.v1. Handlers are thin: authenticate, validate, persist through the
// store, wake the scheduler, reply. They run on gRPC's threads and never touch scheduler
// state except through its published views.
#pragma once

#include "common/config.h"
#include "hai/v1/admin.grpc.pb.h"
#include "hai/v1/cluster.grpc.pb.h"
#include "hai/v1/task.grpc.pb.h"
#include "hai/v1/user.grpc.pb.h"
#include "scheduler/api/log_stream.h"
#include "scheduler/events/notifier.h"
#include "scheduler/loop/pass_trigger.h"
#include "scheduler/loop/published_views.h"
#include "scheduler/metrics.h"
#include "scheduler/store/store.h"

namespace hai::api {

struct ServiceDeps {
  store::Store* store = nullptr;
  PassTrigger* scheduler = nullptr;       // wakes the loop after a write
  const PublishedViews* views = nullptr;  // what the last pass published
  Notifier* notifier = nullptr;
  Metrics* metrics = nullptr;
  const Config* config = nullptr;
  std::string log_dir;  // <data_dir>/logs
};

class TaskServiceImpl final : public hai::v1::TaskService::Service {
 public:
  explicit TaskServiceImpl(ServiceDeps deps)
      : d_(std::move(deps)),
        follows_(d_.config != nullptr ? d_.config->grpc.max_follows_per_user : 16,
                 d_.config != nullptr ? d_.config->grpc.max_follows : 256) {}
  grpc::Status Submit(grpc::ServerContext*, const hai::v1::SubmitRequest*,
                      hai::v1::SubmitResponse*) override;
  grpc::Status Get(grpc::ServerContext*, const hai::v1::GetRequest*,
                   hai::v1::GetResponse*) override;
  grpc::Status List(grpc::ServerContext*, const hai::v1::ListRequest*,
                    hai::v1::ListResponse*) override;
  grpc::Status Stop(grpc::ServerContext*, const hai::v1::StopRequest*,
                    hai::v1::StopResponse*) override;
  grpc::Status Suspend(grpc::ServerContext*, const hai::v1::SuspendRequest*,
                       hai::v1::SuspendResponse*) override;
  grpc::Status Resume(grpc::ServerContext*, const hai::v1::ResumeRequest*,
                      hai::v1::ResumeResponse*) override;
  grpc::Status SetPriority(grpc::ServerContext*, const hai::v1::SetPriorityRequest*,
                           hai::v1::SetPriorityResponse*) override;
  grpc::Status Queue(grpc::ServerContext*, const hai::v1::QueueRequest*,
                     hai::v1::QueueResponse*) override;
  grpc::Status StreamLogs(grpc::ServerContext*, const hai::v1::StreamLogsRequest*,
                          grpc::ServerWriter<hai::v1::LogChunk>*) override;

 private:
  // The nodes and quota a submit or a priority change is checked against: the last pass's
  // views, or read from Postgres before the first pass.
  struct Views {
    std::shared_ptr<const std::vector<policy::Node>> nodes;
    std::shared_ptr<const QuotaView> quota;
  };
  absl::StatusOr<Views> AdmissionViews();
  // ResourceExhausted when the submitter has scheduler.max_open_tasks_per_user open tasks.
  absl::StatusOr<store::NewChain> CheckOpenTaskCap(store::NewChain chain);
  // Resolves a TaskRef the caller may act on: own chains, or any chain for admins.
  absl::StatusOr<store::Chain> Resolve(const store::User& user, const hai::v1::TaskRef& ref);
  void Fill(const store::Chain& chain, hai::v1::Task* out);
  grpc::Status WakeAndReply(int64_t chain_id, hai::v1::Task* out);
  ServiceDeps d_;
  FollowLimiter follows_;  // concurrent StreamLogs follows (grpc.max_follows*)
};

class ClusterServiceImpl final : public hai::v1::ClusterService::Service {
 public:
  explicit ClusterServiceImpl(ServiceDeps deps) : d_(std::move(deps)) {}
  grpc::Status ListNodes(grpc::ServerContext*, const hai::v1::ListNodesRequest*,
                         hai::v1::ListNodesResponse*) override;

 private:
  ServiceDeps d_;
};

class UserServiceImpl final : public hai::v1::UserService::Service {
 public:
  explicit UserServiceImpl(ServiceDeps deps) : d_(std::move(deps)) {}
  grpc::Status WhoAmI(grpc::ServerContext*, const hai::v1::WhoAmIRequest*,
                      hai::v1::WhoAmIResponse*) override;

 private:
  ServiceDeps d_;
};

// AdminService: every call requires the admin role (PERMISSION_DENIED otherwise).
class AdminServiceImpl final : public hai::v1::AdminService::Service {
 public:
  explicit AdminServiceImpl(ServiceDeps deps) : d_(std::move(deps)) {}
  grpc::Status UserAdd(grpc::ServerContext*, const hai::v1::UserAddRequest*,
                       hai::v1::UserAddResponse*) override;
  grpc::Status UserList(grpc::ServerContext*, const hai::v1::UserListRequest*,
                        hai::v1::UserListResponse*) override;
  grpc::Status UserDisable(grpc::ServerContext*, const hai::v1::UserDisableRequest*,
                           hai::v1::UserDisableResponse*) override;
  grpc::Status UserRotateToken(grpc::ServerContext*, const hai::v1::UserRotateTokenRequest*,
                               hai::v1::UserRotateTokenResponse*) override;
  grpc::Status QuotaSet(grpc::ServerContext*, const hai::v1::QuotaSetRequest*,
                        hai::v1::QuotaSetResponse*) override;
  grpc::Status QuotaList(grpc::ServerContext*, const hai::v1::QuotaListRequest*,
                         hai::v1::QuotaListResponse*) override;
  grpc::Status NodeAdd(grpc::ServerContext*, const hai::v1::NodeAddRequest*,
                       hai::v1::NodeAddResponse*) override;
  grpc::Status NodeSetState(grpc::ServerContext*, const hai::v1::NodeStateRequest*,
                            hai::v1::NodeStateResponse*) override;
  grpc::Status Check(grpc::ServerContext*, const hai::v1::CheckRequest*,
                     hai::v1::CheckResponse*) override;

 private:
  ServiceDeps d_;
};

}  // namespace hai::api
