#include "cli/usage_format.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hai::cli {
namespace {

// "1d12h", "90m", "7d": days, hours, minutes, seconds in any order, each once at most.
absl::StatusOr<absl::Duration> ParseAgo(const std::string& s) {
  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  if (s.empty()) return absl::InvalidArgumentError("empty duration");
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && absl::ascii_isdigit(s[j])) ++j;
    int64_t n = 0;
    if (j == i || j == s.size() || j - i > 9 || !absl::SimpleAtoi(s.substr(i, j - i), &n)) {
      return absl::InvalidArgumentError("bad duration");
    }
    switch (s[j]) {
      case 'd': total += absl::Hours(24 * n); break;
      case 'h': total += absl::Hours(n); break;
      case 'm': total += absl::Minutes(n); break;
      case 's': total += absl::Seconds(n); break;
      default: return absl::InvalidArgumentError("bad duration unit");
    }
    i = j + 1;
  }
  return total;
}

std::string Hours(double h) { return absl::StrFormat("%.2f", h); }

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<absl::Time> ParseUsageTime(const std::string& text, absl::Time now) {
  if (text == "now") return now;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) return t;
  absl::StatusOr<absl::Duration> ago = ParseAgo(text);
  if (ago.ok()) return now - *ago;
  return absl::InvalidArgumentError(
      absl::StrCat("'", text,
                   "' is not a time: use RFC 3339 (2026-12-01T00:00:00Z), a date (2026-12-01), "
                   "'now', or a duration ago (7d, 36h, 90m)"));
}

std::string RenderUsageTable(const hai::v1::UsageResponse& r) {
  std::string out = absl::StrFormat(
      "GPU-hours from %s to %s by %s%s\n",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMicros(r.since_unix_micros()),
                       absl::UTCTimeZone()),
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMicros(r.until_unix_micros()),
                       absl::UTCTimeZone()),
      r.by(), r.own_rows_only() ? " (your own rows)" : "");
  size_t width = std::max<size_t>(3, r.by().size());
  for (const auto& row : r.rows()) width = std::max(width, row.key().size());
  absl::StrAppend(&out, absl::StrFormat("%-*s %12s %12s %12s %12s\n", width, r.by(), "ALLOCATED",
                                        "LOST(PREEMPT)", "IDLE", "UNAVAILABLE"));
  double a = 0, l = 0, i = 0, u = 0;
  for (const auto& row : r.rows()) {
    absl::StrAppend(
        &out,
        absl::StrFormat("%-*s %12s %12s %12s %12s\n", width, row.key(),
                        Hours(row.gpu_hours_allocated()), Hours(row.gpu_hours_lost_to_preemption()),
                        Hours(row.gpu_hours_idle()), Hours(row.gpu_hours_unavailable())));
    a += row.gpu_hours_allocated();
    l += row.gpu_hours_lost_to_preemption();
    i += row.gpu_hours_idle();
    u += row.gpu_hours_unavailable();
  }
  absl::StrAppend(&out, absl::StrFormat("%-*s %12s %12s %12s %12s\n", width, "TOTAL", Hours(a),
                                        Hours(l), Hours(i), Hours(u)));
  return out;
}

std::string RenderUsageCsv(const hai::v1::UsageResponse& r) {
  std::string out = absl::StrCat(r.by(),
                                 ",gpu_hours_allocated,gpu_hours_lost_to_preemption,gpu_hours_idle,"
                                 "gpu_hours_unavailable\r\n");
  for (const auto& row : r.rows()) {
    absl::StrAppend(&out, CsvField(row.key()), ",",
                    absl::StrFormat("%.6f,%.6f,%.6f,%.6f", row.gpu_hours_allocated(),
                                    row.gpu_hours_lost_to_preemption(), row.gpu_hours_idle(),
                                    row.gpu_hours_unavailable()),
                    "\r\n");
  }
  return out;
}

}  // namespace hai::cli
