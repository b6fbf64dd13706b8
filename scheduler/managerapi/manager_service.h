// ManagerService (proto/hai/v1/manager.proto): the manager API on haid's gRPC port. Every
// call is authenticated by the attempt's manager credential (common/manager_credential.h)
// for the attempt it names, decoded, and run through ManagerStores as that attempt's store;
// fencing is the store's (the write is conditioned on the generation in Postgres), so any
// haid replica, leader or not, may serve any manager.
#pragma once

#include <atomic>
#include <string>

#include <grpcpp/grpcpp.h>

#include "hai/v1/manager.grpc.pb.h"
#include "scheduler/managerapi/manager_stores.h"

namespace hai::managerapi {

class ManagerServiceImpl final : public v1::ManagerService::Service {
 public:
  // `key_hex`: the manager_api_key row (migration 0012).
  ManagerServiceImpl(ManagerStores& stores, std::string key_hex)
      : stores_(stores), key_hex_(std::move(key_hex)) {}

  grpc::Status Claim(grpc::ServerContext* ctx, const v1::ClaimRequest* req,
                     v1::ClaimReply* reply) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                         v1::HeartbeatReply* reply) override;
  grpc::Status Write(grpc::ServerContext* ctx, const v1::ManagerWrite* req,
                     v1::ManagerWriteReply* reply) override;
  grpc::Status Finish(grpc::ServerContext* ctx, const v1::FinishRequest* req,
                      v1::FinishReply* reply) override;
  grpc::Status StopActor(grpc::ServerContext* ctx, const v1::AttemptRef* req,
                         v1::StopActorReply* reply) override;
  grpc::Status LoadJupyter(grpc::ServerContext* ctx, const v1::AttemptRef* req,
                           v1::JupyterInfoReply* reply) override;

  int64_t refused() const { return refused_.load(); }  // calls without a valid credential

 private:
  // UNAUTHENTICATED unless the call carries the credential of `attempt_id`.
  grpc::Status Authenticate(const grpc::ServerContext& ctx, int64_t attempt_id);
  // Runs fn as the store of the attempt's manager holding `generation`.
  grpc::Status RunAs(grpc::ServerContext* ctx, int64_t attempt_id, int64_t generation,
                     const std::function<absl::Status(manager::AttemptStore&)>& fn);

  ManagerStores& stores_;
  const std::string key_hex_;
  std::atomic<int64_t> refused_{0};
};

}  // namespace hai::managerapi
