// The rank log line format that haid's log streaming and hai-cli parse.
#include "manager/log_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hai::manager {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kAt = absl::FromUnixMillis(1714564800123);  // 2024-05-01T12:00:00.123Z

TEST(FormatLogLineTest, TimestampStreamAndText) {
  EXPECT_EQ(FormatLogLine(kAt, LogStream::kOut, "hello"), "2024-05-01T12:00:00.123Z [out] hello\n");
  EXPECT_EQ(FormatLogLine(kAt, LogStream::kErr, "boom"), "2024-05-01T12:00:00.123Z [err] boom\n");
}

TEST(FormatLogLineTest, DropsCarriageReturnAndKeepsEmptyLines) {
  EXPECT_EQ(FormatLogLine(kAt, LogStream::kOut, "dos\r"), "2024-05-01T12:00:00.123Z [out] dos\n");
  EXPECT_EQ(FormatLogLine(kAt, LogStream::kOut, ""), "2024-05-01T12:00:00.123Z [out] \n");
}

TEST(LineSplitterTest, YieldsOnlyCompleteLines) {
  LineSplitter s;
  EXPECT_THAT(s.Feed("a\nb", 3), ElementsAre("a"));  // "b" waits for its newline
  EXPECT_THAT(s.Feed("c\n\nd", 4), ElementsAre("bc", ""));
  EXPECT_THAT(s.Flush(), ElementsAre("d"));
  EXPECT_THAT(s.Flush(), IsEmpty());
}

TEST(LineSplitterTest, CutsOverlongLines) {
  LineSplitter s(4);
  EXPECT_THAT(s.Feed("abcdefghij\n", 11), ElementsAre("abcd", "efgh", "ij"));
}

}  // namespace
}  // namespace hai::manager
