// The manager API's messages (proto/hai/v1/manager.proto) to and from the AttemptStore's value
// types (manager/attempt_store.h), shared by both ends: haid's ManagerService and the manager's
// RemoteAttemptStore. Names of states travel as the model's names; one this binary does not
// know is InvalidArgument (the two ends are of different versions), never a guess.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hai/v1/manager.pb.h"
#include "manager/attempt_store.h"

namespace hai::manager::remote {

// Trailing metadata that marks a FAILED_PRECONDITION as ManagerSuperseded; its value is the
// generation the attempt carries now.
inline constexpr char kSupersededTrailer[] = "hai-manager-superseded";

void ToProto(const AttemptInfo& a, v1::ManagerAttemptInfo* out);
absl::StatusOr<AttemptInfo> FromProto(const v1::ManagerAttemptInfo& p);

void ToProto(const ControlState& c, v1::HeartbeatReply* out);
ControlState FromProto(const v1::HeartbeatReply& p);

// haid's side: the status of a call as gRPC carries it; a ManagerSuperseded status also sets
// the trailer on `context`.
grpc::Status ToGrpc(const absl::Status& s, grpc::ServerContext* context);
// The manager's side: the call's status back as the AttemptStore reports it (ManagerSuperseded
// restored from the trailer; `mine` is the caller's generation).
absl::Status FromGrpc(const grpc::Status& s, const grpc::ClientContext& context, int64_t mine);

}  // namespace hai::manager::remote
