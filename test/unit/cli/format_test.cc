// Tests of the pure text helpers: what users read must not drift silently.
#include "cli/format.h"

#include "cli/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hai::cli {
namespace {

TEST(TierName, KnownAndUnknown) {
  EXPECT_EQ(TierName(50), "EXTREME_HIGH");
  EXPECT_EQ(TierName(30), "HIGH");
  EXPECT_EQ(TierName(5), "BELOW_NORMAL");
  EXPECT_EQ(TierName(0), "LOW");
  EXPECT_EQ(TierName(-1), "AUTO");
  EXPECT_EQ(TierName(25), "25");  // a tier the server knows and we do not: still truthful
}

TEST(NormalizePriority, NamesNumbersAndPrefixes) {
  EXPECT_EQ(*NormalizePriority("high"), "HIGH");
  EXPECT_EQ(*NormalizePriority("Above_Normal"), "ABOVE_NORMAL");
  EXPECT_EQ(*NormalizePriority("PRIORITY_LOW"), "LOW");
  EXPECT_EQ(*NormalizePriority("40"), "VERY_HIGH");
  EXPECT_EQ(*NormalizePriority("0"), "LOW");
  EXPECT_EQ(*NormalizePriority("-1"), "AUTO");
  EXPECT_EQ(*NormalizePriority("auto"), "AUTO");
  EXPECT_FALSE(NormalizePriority("31").ok());
  EXPECT_FALSE(NormalizePriority("").ok());
  EXPECT_THAT(NormalizePriority("URGENT").status().message(),
              ::testing::HasSubstr("EXTREME_HIGH"));
}

TEST(HumanDuration, Units) {
  EXPECT_EQ(HumanDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(HumanDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(HumanDuration(absl::Minutes(125)), "2h05m");
  EXPECT_EQ(HumanDuration(absl::Hours(76)), "3d4h");
  EXPECT_EQ(HumanDuration(absl::Seconds(-5)), "0s");  // clock skew
  EXPECT_EQ(HumanDuration(absl::Milliseconds(1999)), "1s");
}

TEST(FormatAge, UnsetIsDash) {
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_EQ(FormatAge(absl::InfinitePast(), now), "-");
  EXPECT_EQ(FormatAge(absl::FromUnixSeconds(808), now), "3m12s");
}

TEST(FormatLocalTime, UsesTheGivenZone) {
  EXPECT_EQ(FormatLocalTime(absl::FromUnixSeconds(0), absl::UTCTimeZone()),
            "1970-01-01 00:00:00");
  EXPECT_EQ(FormatLocalTime(absl::InfinitePast(), absl::UTCTimeZone()), "-");
}

TEST(FormatGpuList, Ranges) {
  EXPECT_EQ(FormatGpuList({}), "-");
  EXPECT_EQ(FormatGpuList({3}), "3");
  EXPECT_EQ(FormatGpuList({0, 1}), "0,1");
  EXPECT_EQ(FormatGpuList({0, 1, 2, 3, 4, 5, 6, 7}), "0-7");
  EXPECT_EQ(FormatGpuList({6, 0, 2, 1, 3}), "0-3,6");
  EXPECT_EQ(FormatGpuList({1, 1, 2}), "1,2");
}

TEST(ShellQuote, OnlyWhenNeeded) {
  EXPECT_EQ(ShellQuote("--lr=0.1"), "--lr=0.1");
  EXPECT_EQ(ShellQuote("/a/b.py"), "/a/b.py");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("$HOME"), "'$HOME'");
}

TEST(PrefixLines, EveryLineAndATrailingNewline) {
  EXPECT_EQ(PrefixLines("a\nb\n", "[rank 1] "), "[rank 1] a\n[rank 1] b\n");
  EXPECT_EQ(PrefixLines("partial", "> "), "> partial\n");
  EXPECT_EQ(PrefixLines("\n", "> "), "> \n");
  EXPECT_EQ(PrefixLines("", "> "), "");
}

TEST(Table, AlignsColumnsWithoutTrailingSpaces) {
  Table t({"ID", "NAME", "STATE"});
  t.AddRow({"1", "train-long-name", "running"});
  t.AddRow({"123", "x", ""});
  EXPECT_EQ(t.Render(),
            "ID   NAME             STATE\n"
            "1    train-long-name  running\n"
            "123  x\n");
}

TEST(Table, HeaderlessWithIndent) {
  Table t({});
  t.AddRow({"user", "alice"});
  t.AddRow({"priority", "HIGH"});
  EXPECT_EQ(t.Render("  "),
            "  user      alice\n"
            "  priority  HIGH\n");
}

}  // namespace
}  // namespace hai::cli
