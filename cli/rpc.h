// A connection to haid: the channel (TLS or plaintext, client_config.h), the service stubs,
// and per-call contexts carrying `authorization: Bearer <token>` and the deadline. Keeps gRPC
// details out of the command code, which deals in absl::Status.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

// The channel credentials of `config`: plaintext, or TLS verified against config.ca_file or
// else the system store ($SSL_CERT_FILE, else Debian's /etc/ssl/certs/ca-certificates.crt,
// else gRPC's own roots). An unreadable CA file is a usage error.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const ClientConfig& config);

// What an UNAVAILABLE call means for the transport of `config`, from gRPC's message: a TLS
// verification failure ("haid's certificate is not trusted by <CA>"), a TLS client talking
// to a plaintext haid or the reverse; "" when the message names no such cause.
std::string TransportHint(const ClientConfig& config, absl::string_view grpc_message);

class Connection {
 public:
  // Creates the channel lazily (gRPC connects on the first call), so this cannot fail; an
  // unreachable or untrusted server shows up as UNAVAILABLE on the call.
  Connection(ClientConfig config, absl::Duration timeout,
             std::shared_ptr<grpc::ChannelCredentials> credentials);

  // A context for one call; `deadline` false is for `logs -f`, which may last days.
  std::unique_ptr<grpc::ClientContext> NewContext(bool deadline = true) const;

  // The server's status as absl::Status, naming the URL (and a TLS cause, TransportHint)
  // when haid cannot be reached.
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
