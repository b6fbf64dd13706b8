// GET /api/v1/usage?since=RFC3339&until=RFC3339&by=user|group|tier|node-group on the side
// port, authenticated like the gRPC API ("Authorization: Bearer <token>"; the token never
// goes in the URL). Answers
//   {"since":RFC3339,"until":RFC3339,"by":"user","rows":[{"key":"alice",
//    "gpu_hours_allocated":1.5,"gpu_hours_lost_to_preemption":0.1,"gpu_hours_idle":2.0,
//    "gpu_hours_unavailable":0.0}]}
// or {"error": "..."} with 400 (bad parameter), 401, 403, 503. docs/usage.md.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/http/http_core.h"
#include "scheduler/store/store.h"

namespace hai {

inline constexpr const char* kUsagePath = "/api/v1/usage";

// `authorization` is the "Bearer <token>" value to authenticate: the request's header, or
// the dashboard session's token (the page signs in with a cookie, never a header).
http::Response UsageEndpoint(store::Store& store, const http::Request& request,
                             const std::string& authorization);

// The window and grouping of a query string; InvalidArgument naming the bad parameter.
struct UsageParams {
  absl::Time since = absl::InfinitePast();    // absent: 7 days before until
  absl::Time until = absl::InfiniteFuture();  // absent: now
  std::string by = "user";
};
absl::StatusOr<UsageParams> ParseUsageQuery(const std::string& query);

}  // namespace hai
