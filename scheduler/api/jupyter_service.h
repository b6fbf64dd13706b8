// JupyterService (proto/hai/v1/jupyter.proto): create, list, locate and stop Jupyter dev
// containers. Thin like the other handlers: authenticate, validate, admit against the
// jupyter quota inside the creating transaction, persist, wake the loop, reply. Every call
// about a container counts as activity for the idle culler.
#pragma once

#include "hai/v1/jupyter.grpc.pb.h"
#include "scheduler/api/services.h"
#include "scheduler/loop/jupyter_pass.h"
#include "scheduler/store/jupyter_store.h"

namespace hai::api {

class JupyterServiceImpl final : public hai::v1::JupyterService::Service {
 public:
  // `pass` publishes why waiting containers wait (may be null in tests).
  JupyterServiceImpl(ServiceDeps deps, const JupyterPass* pass)
      : d_(std::move(deps)), pass_(pass), jstore_(d_.store->pool()) {}

  grpc::Status Create(grpc::ServerContext*, const hai::v1::JupyterCreateRequest*,
                      hai::v1::JupyterCreateResponse*) override;
  grpc::Status List(grpc::ServerContext*, const hai::v1::JupyterListRequest*,
                    hai::v1::JupyterListResponse*) override;
  grpc::Status Url(grpc::ServerContext*, const hai::v1::JupyterUrlRequest*,
                   hai::v1::JupyterUrlResponse*) override;
  grpc::Status Stop(grpc::ServerContext*, const hai::v1::JupyterStopRequest*,
                    hai::v1::JupyterStopResponse*) override;

 private:
  // The container the caller may act on: their own (by id or name), any for admins.
  absl::StatusOr<store::JupyterChain> Resolve(const store::User& user,
                                              const hai::v1::JupyterRef& ref);
  absl::StatusOr<store::JupyterChain> Load(int64_t chain_id);
  void Fill(const store::JupyterChain& c, hai::v1::JupyterContainer* out) const;

  ServiceDeps d_;
  const JupyterPass* pass_;
  store::JupyterStore jstore_;
};

// The user's jupyter quota per group with what their open containers use of it (the lines
// `jupyter list` and `whoami` show).
absl::Status AddJupyterQuotaLines(
    store::Store& store, const std::string& user,
    google::protobuf::RepeatedPtrField<hai::v1::JupyterQuotaLine>* out);

}  // namespace hai::api
