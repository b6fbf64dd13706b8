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
// call.
//
// An unknown token is remembered too, briefly (grpc.unknown_token_cache_ms, 5 s by default;
// the same bounded table), so a client retrying a bad token, or a flood of them, costs at
// most one statement per token and window instead of one per call. A token created or
// rotated meanwhile still works at once: its hai_admin notification empties the cache.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/store/store.h"

namespace hai::api {

absl::StatusOr<store::User> Authenticate(const grpc::ServerContext& context, store::Store& store);

// Looks a user up by token hash (NotFound for an unknown token): the store's
// UserByTokenHash, or a counting fake in tests.
using TokenLookup = std::function<absl::StatusOr<store::User>(const std::string& token_hash)>;

// The cached lookup behind Authenticate, at time `now`: the user of `token`, NotFound for an
// unknown token (from the cache while its negative entry lasts), or the lookup's error.
absl::StatusOr<store::User> LookupToken(const std::string& token, absl::Time now,
                                        const TokenLookup& lookup);

// How long an unknown token is remembered (0 = not at all); set once at start.
void SetUnknownTokenTtl(absl::Duration ttl);

// Forgets every cached user (thread-safe).
void InvalidateAuthCache();

}  // namespace hai::api
