// hai-cli usage: time arguments and the table and CSV renderings.
#include "cli/usage_format.h"

#include <gtest/gtest.h>

namespace hai::cli {
namespace {

TEST(UsageFormat, ParsesTimesAndDurationsAgo) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(*ParseUsageTime("now", now), now);
  EXPECT_EQ(*ParseUsageTime("7d", now), now - absl::Hours(168));
  EXPECT_EQ(*ParseUsageTime("1d12h", now), now - absl::Hours(36));
  EXPECT_EQ(*ParseUsageTime("2026-12-01T00:00:00Z", now), absl::FromUnixSeconds(1796083200));
  EXPECT_EQ(*ParseUsageTime("2026-12-01", now), absl::FromUnixSeconds(1796083200));
  for (const char* bad : {"", "7", "d", "7x", "yesterday", "2026-13-01", "99999999999d"}) {
    EXPECT_EQ(ParseUsageTime(bad, now).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UsageFormat, TableAndCsv) {
  hai::v1::UsageResponse r;
  r.set_by("user");
  r.set_since_unix_micros(0);
  r.set_until_unix_micros(3600'000'000);
  auto* row = r.add_rows();
  row->set_key("alice");
  row->set_gpu_hours_allocated(1.5);
  row->set_gpu_hours_lost_to_preemption(0.25);
  row = r.add_rows();
  row->set_key("a,\"b\"");
  row->set_gpu_hours_idle(2);
  const std::string table = RenderUsageTable(r);
  EXPECT_NE(table.find("alice"), std::string::npos);
  EXPECT_NE(table.find("TOTAL"), std::string::npos);
  EXPECT_NE(table.find("1.50"), std::string::npos);
  EXPECT_EQ(RenderUsageCsv(r),
            "user,gpu_hours_allocated,gpu_hours_lost_to_preemption,gpu_hours_idle,"
            "gpu_hours_unavailable\r\n"
            "alice,1.500000,0.250000,0.000000,0.000000\r\n"
            "\"a,\"\"b\"\"\",0.000000,0.000000,2.000000,0.000000\r\n");
}

}  // namespace
}  // namespace hai::cli
