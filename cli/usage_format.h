// `hai-cli usage`: the window's times as the user types them, and the report as a table or
// CSV. Pure, so test/unit/cli tests it without a server.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hai/v1/usage.pb.h"

namespace hai::cli {

// An RFC 3339 time ("2026-12-01T00:00:00Z"), a date ("2026-12-01", UTC midnight), "now", or
// a duration before `now` ("7d", "36h", "90m", "1d12h"). InvalidArgument otherwise.
absl::StatusOr<absl::Time> ParseUsageTime(const std::string& text, absl::Time now);

// Columns: key, allocated, lost to preemption, idle, unavailable (GPU-hours), then a total.
std::string RenderUsageTable(const hai::v1::UsageResponse& report);
// RFC 4180 CSV with a header row; keys are quoted when they need it.
std::string RenderUsageCsv(const hai::v1::UsageResponse& report);

}  // namespace hai::cli
