// UsageService (proto/hai/v1/usage.proto): GPU-hours over a window, by user, group, tier or
// node group. Reads only; authorization as scheduler/api/usage_report.h says.
#pragma once

#include "hai/v1/usage.grpc.pb.h"
#include "scheduler/api/services.h"

namespace hai::api {

class UsageServiceImpl final : public hai::v1::UsageService::Service {
 public:
  explicit UsageServiceImpl(ServiceDeps deps) : d_(std::move(deps)) {}
  grpc::Status Report(grpc::ServerContext*, const hai::v1::UsageRequest*,
                      hai::v1::UsageResponse*) override;

 private:
  ServiceDeps d_;
};

}  // namespace hai::api
