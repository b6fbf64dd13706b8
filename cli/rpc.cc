// gRPC plumbing of hai-cli; see rpc.h.
#include "cli/rpc.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/endpoints.h"
#include "cli/exit_codes.h"

namespace hai::cli {

Connection::Connection(ClientConfig config, absl::Duration timeout)
    : config_(std::move(config)),
      timeout_(timeout),
      channel_(grpc::CreateChannel(ChannelTarget(config_.url), grpc::InsecureChannelCredentials())),
      tasks_(hai::v1::TaskService::NewStub(channel_)),
      cluster_(hai::v1::ClusterService::NewStub(channel_)),
      users_(hai::v1::UserService::NewStub(channel_)),
      admin_(hai::v1::AdminService::NewStub(channel_)),
      jupyter_(hai::v1::JupyterService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(bool deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!config_.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", config_.token));
  }
  if (deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return ctx;
}

absl::Status Connection::Check(const grpc::Status& status) const {
  return FromRpcStatus(status, config_.url);
}

}  // namespace hai::cli
