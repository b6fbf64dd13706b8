// Bearer-token authentication of gRPC calls: "authorization: Bearer <token>" metadata, looked
// up by its SHA-256 in `users`. Unauthenticated for a missing/unknown token, PermissionDenied
// for a disabled user.
//
// Every RPC authenticates, so a user found by a token is kept in a small in-process cache
// for a few seconds instead of costing a statement per call (at 1,000+ submits/s the lookup
// was a Postgres statement and a pooled connection per submit). The cache is emptied on every
// hai_admin notification (the users, user_groups and user_group_members triggers send one on
// any edit, by SQL or by AdminService; the listener's "reconnected" too) and by AdminService
// itself right after it disables a user or rotates a token, so those take effect on the next
// call. Unknown tokens are never cached.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "scheduler/store/store.h"

namespace hai::api {

absl::StatusOr<store::User> Authenticate(const grpc::ServerContext& context, store::Store& store);

// Forgets every cached user (thread-safe).
void InvalidateAuthCache();

}  // namespace hai::api
