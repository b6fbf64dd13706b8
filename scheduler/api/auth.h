// Bearer-token authentication of gRPC calls: "authorization: Bearer <token>" metadata, looked
// up by its SHA-256 in `users`. Unauthenticated for a missing/unknown token, PermissionDenied
// for a disabled user.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "scheduler/store/store.h"

namespace hai::api {

absl::StatusOr<store::User> Authenticate(const grpc::ServerContext& context, store::Store& store);

}  // namespace hai::api
