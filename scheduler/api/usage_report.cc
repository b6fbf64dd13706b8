#include "scheduler/api/usage_report.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "scheduler/api/auth.h"
#include "scheduler/store/usage_store.h"
#include "scheduler/usage/usage.h"

namespace hai::api {
namespace {
constexpr double kMicrosPerHour = 3600.0 * 1e6;
}  // namespace

absl::StatusOr<hai::v1::UsageResponse> UsageReport(store::Store& store, const store::User& user,
                                                   absl::Time since, absl::Time until,
                                                   const std::string& by) {
  absl::StatusOr<usage::GroupBy> group_by = usage::ParseGroupBy(by.empty() ? "user" : by);
  if (!group_by.ok()) return group_by.status();
  const bool until_now = until == absl::InfiniteFuture();
  if (until_now) until = absl::Now();
  if (since == absl::InfinitePast()) since = until - absl::Hours(24 * 7);
  if (since == absl::InfiniteFuture() || until == absl::InfinitePast()) {
    return absl::InvalidArgumentError("usage window out of range");
  }
  if (until <= since) return absl::InvalidArgumentError("usage window: until must be after since");
  // Postgres keeps microseconds from 4713 BC on; a window far outside the epoch is a typo.
  const absl::Time kEarliest = absl::FromUnixSeconds(0);
  if (since < kEarliest) return absl::InvalidArgumentError("usage window starts before 1970");
  std::optional<std::string> only;
  if (!user.admin()) only = user.name;
  store::UsageStore usage_store(store.pool());
  // A window ending "now" by the client's clock may be a little ahead of Postgres': the
  // store caps it at Postgres' now().
  absl::StatusOr<store::UsageReport> report = usage_store.Report(
      absl::ToUnixMicros(since), until_now ? INT64_MAX / 2 : absl::ToUnixMicros(until), only);
  if (!report.ok()) return report.status();
  hai::v1::UsageResponse out;
  out.set_since_unix_micros(report->since);
  out.set_until_unix_micros(report->until);
  out.set_by(std::string(usage::Name(*group_by)));
  out.set_own_rows_only(only.has_value());
  for (const usage::Row& r : usage::Group(report->ledger, *group_by)) {
    hai::v1::UsageRow* row = out.add_rows();
    row->set_key(r.key);
    row->set_gpu_hours_allocated(static_cast<double>(r.figures.allocated) / kMicrosPerHour);
    row->set_gpu_hours_lost_to_preemption(static_cast<double>(r.figures.lost_to_preemption) /
                                          kMicrosPerHour);
    row->set_gpu_hours_idle(static_cast<double>(r.figures.idle) / kMicrosPerHour);
    row->set_gpu_hours_unavailable(static_cast<double>(r.figures.unavailable) / kMicrosPerHour);
  }
  return out;
}

absl::StatusOr<store::User> AuthenticateHeader(const std::string& authorization,
                                               store::Store& store) {
  const std::string token = BearerToken(authorization);
  if (token.empty()) return absl::UnauthenticatedError("missing 'Authorization: Bearer <token>'");
  absl::StatusOr<store::User> user =
      LookupToken(token, absl::Now(),
                  [&store](const std::string& hash) { return store.UserByTokenHash(hash); });
  if (absl::IsNotFound(user.status())) return absl::UnauthenticatedError("unknown token");
  if (!user.ok()) return user.status();
  if (!user->active) {
    return absl::PermissionDeniedError(absl::StrCat("user ", user->name, " is disabled"));
  }
  return user;
}

}  // namespace hai::api
