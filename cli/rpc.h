// A connection to haid: the plaintext channel, the three service stubs, and per-call contexts
// carrying `authorization: Bearer <token>` and the deadline. Keeps gRPC details out of the
// command code, which deals in absl::Status.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/client_config.h"
#include "grpcpp/grpcpp.h"
#include "hai/v1/admin.grpc.pb.h"
#include "hai/v1/cluster.grpc.pb.h"
#include "hai/v1/jupyter.grpc.pb.h"
#include "hai/v1/task.grpc.pb.h"
#include "hai/v1/usage.grpc.pb.h"
#include "hai/v1/user.grpc.pb.h"

namespace hai::cli {

class Connection {
 public:
  // Creates the channel lazily (gRPC connects on the first call), so this cannot fail; an
  // unreachable server shows up as UNAVAILABLE on the call.
  Connection(ClientConfig config, absl::Duration timeout);

  // A context for one call; `deadline` false is for `logs -f`, which may last days.
  std::unique_ptr<grpc::ClientContext> NewContext(bool deadline = true) const;

  // The server's status as absl::Status, naming the URL when haid cannot be reached.
  absl::Status Check(const grpc::Status& status) const;

  const std::string& url() const { return config_.url; }
  hai::v1::TaskService::Stub& tasks() { return *tasks_; }
  hai::v1::ClusterService::Stub& cluster() { return *cluster_; }
  hai::v1::UserService::Stub& users() { return *users_; }
  hai::v1::AdminService::Stub& admin() { return *admin_; }
  hai::v1::JupyterService::Stub& jupyter() { return *jupyter_; }
  hai::v1::UsageService::Stub& usage() { return *usage_; }

 private:
  ClientConfig config_;
  absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<hai::v1::TaskService::Stub> tasks_;
  std::unique_ptr<hai::v1::ClusterService::Stub> cluster_;
  std::unique_ptr<hai::v1::UserService::Stub> users_;
  std::unique_ptr<hai::v1::AdminService::Stub> admin_;
  std::unique_ptr<hai::v1::JupyterService::Stub> jupyter_;
  std::unique_ptr<hai::v1::UsageService::Stub> usage_;
};

}  // namespace hai::cli
