// absl::Status -> grpc::Status at the API edge (same canonical codes, same message).
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace hai::api {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace hai::api
