#include "scheduler/api/usage_service.h"

#include "scheduler/api/auth.h"
#include "scheduler/api/grpc_status.h"
#include "scheduler/api/usage_report.h"

namespace hai::api {

grpc::Status UsageServiceImpl::Report(grpc::ServerContext* context,
                                      const hai::v1::UsageRequest* req,
                                      hai::v1::UsageResponse* resp) {
  auto user = Authenticate(*context, *d_.store);
  if (!user.ok()) return ToGrpc(user.status());
  const absl::Time since = req->since_unix_micros() == 0
                               ? absl::InfinitePast()
                               : absl::FromUnixMicros(req->since_unix_micros());
  const absl::Time until = req->until_unix_micros() == 0
                               ? absl::InfiniteFuture()
                               : absl::FromUnixMicros(req->until_unix_micros());
  auto report = UsageReport(*d_.store, *user, since, until, req->by());
  if (!report.ok()) return ToGrpc(report.status());
  *resp = std::move(*report);
  return grpc::Status::OK;
}

}  // namespace hai::api
