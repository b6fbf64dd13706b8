// The usage report both the gRPC UsageService and the HTTP GET /api/v1/usage answer: checks
// the request, applies the read authorization (admins see every row; anyone else their own
// rows only, without the cluster's idle and unavailable time) and turns GPU-microseconds into
// GPU-hours. docs/usage.md.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hai/v1/usage.pb.h"
#include "scheduler/store/rows.h"
#include "scheduler/store/store.h"

namespace hai::api {

// until = absl::InfiniteFuture() means now; since = InfinitePast() means 7 days before until.
absl::StatusOr<hai::v1::UsageResponse> UsageReport(store::Store& store, const store::User& user,
                                                   absl::Time since, absl::Time until,
                                                   const std::string& by);

// The user of an "Authorization: Bearer <token>" header, like gRPC's Authenticate
// (Unauthenticated, or PermissionDenied for a disabled user).
absl::StatusOr<store::User> AuthenticateHeader(const std::string& authorization,
                                               store::Store& store);

}  // namespace hai::api
