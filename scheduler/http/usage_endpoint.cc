#include "scheduler/http/usage_endpoint.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "scheduler/api/usage_report.h"

namespace hai {
namespace {

// %XX decoding; '+' stays '+' (RFC 3339 offsets use it; URLSearchParams sends %2B anyway).
absl::StatusOr<std::string> Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int v = 0;
    if (i + 2 >= s.size() || !absl::ascii_isxdigit(s[i + 1]) || !absl::ascii_isxdigit(s[i + 2]) ||
        !absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
      return absl::InvalidArgumentError("bad %-escape in the query");
    }
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

absl::StatusOr<absl::Time> ParseRfc3339(const std::string& name, const std::string& value) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be an RFC 3339 time (2026-12-01T00:00:00Z): ", err));
  }
  return t;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

int HttpCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

http::Response Error(const absl::Status& s) {
  return {HttpCode(s), "application/json",
          nlohmann::json{{"error", std::string(s.message())}}.dump()};
}

}  // namespace

absl::StatusOr<UsageParams> ParseUsageQuery(const std::string& query) {
  UsageParams p;
  bool seen_since = false, seen_until = false, seen_by = false;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = part.find('=');
    const std::string name(part.substr(0, eq));
    absl::StatusOr<std::string> value =
        Unescape(eq == absl::string_view::npos ? "" : part.substr(eq + 1));
    if (!value.ok()) return value.status();
    bool* seen = name == "since"   ? &seen_since
                 : name == "until" ? &seen_until
                 : name == "by"    ? &seen_by
                                   : nullptr;
    if (seen == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown parameter '", name, "'"));
    }
    if (*seen) return absl::InvalidArgumentError(absl::StrCat("parameter '", name, "' twice"));
    *seen = true;
    if (name == "by") {
      p.by = *value;
      continue;
    }
    absl::StatusOr<absl::Time> t = ParseRfc3339(name, *value);
    if (!t.ok()) return t.status();
    (name == "since" ? p.since : p.until) = *t;
  }
  return p;
}

http::Response UsageEndpoint(store::Store& store, const http::Request& req,
                             const std::string& authorization) {
  if (req.method != "GET") return Error(absl::InvalidArgumentError("usage is GET only"));
  absl::StatusOr<store::User> user = api::AuthenticateHeader(authorization, store);
  if (!user.ok()) return Error(user.status());
  absl::StatusOr<UsageParams> params = ParseUsageQuery(req.query);
  if (!params.ok()) return Error(params.status());
  auto report = api::UsageReport(store, *user, params->since, params->until, params->by);
  if (!report.ok()) return Error(report.status());
  nlohmann::json rows = nlohmann::json::array();
  for (const hai::v1::UsageRow& r : report->rows()) {
    rows.push_back({{"key", r.key()},
                    {"gpu_hours_allocated", r.gpu_hours_allocated()},
                    {"gpu_hours_lost_to_preemption", r.gpu_hours_lost_to_preemption()},
                    {"gpu_hours_idle", r.gpu_hours_idle()},
                    {"gpu_hours_unavailable", r.gpu_hours_unavailable()}});
  }
  nlohmann::json body{{"since", Rfc3339(absl::FromUnixMicros(report->since_unix_micros()))},
                      {"until", Rfc3339(absl::FromUnixMicros(report->until_unix_micros()))},
                      {"by", report->by()},
                      {"rows", std::move(rows)}};
  return {200, "application/json", body.dump()};
}

}  // namespace hai
