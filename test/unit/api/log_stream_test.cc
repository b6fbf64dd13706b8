// LogFollower's bounds (chunked reads of any size, whole lines, no symlinks) and the
// FollowLimiter's per-user and total caps, on files in a temporary directory.
#include "scheduler/api/log_stream.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace hai::api {
namespace {

namespace fs = std::filesystem;

class LogFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / absl::StrCat("hai-logs-", ::getpid(), "-", ++n_);
    fs::remove_all(root_);
    fs::create_directories(root_ / "7" / "1");
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path Rank(int rank) { return root_ / "7" / "1" / absl::StrCat("rank-", rank, ".log"); }
  void Append(int rank, const std::string& text) {
    std::ofstream(Rank(rank), std::ios::app | std::ios::binary) << text;
  }
  // Every piece of one Read, checking each against the chunk size.
  std::vector<LogPiece> ReadAll(LogFollower& f, bool final_read, size_t chunk) {
    std::vector<LogPiece> out;
    f.Read(1, final_read, [&](LogPiece&& p) {
      EXPECT_LE(p.text.size(), chunk + 1);  // +1: the '\n' added to a final partial line
      out.push_back(std::move(p));
      return true;
    });
    return out;
  }
  static std::string Join(const std::vector<LogPiece>& pieces) {
    std::string all;
    for (const LogPiece& p : pieces) all += p.text;
    return all;
  }

  fs::path root_;
  static inline int n_ = 0;
};

TEST_F(LogFollowerTest, LargeLogComesInBoundedWholeLinePieces) {
  std::string log;
  for (int i = 0; i < 20000; ++i) log += absl::StrCat("line ", i, " of the log\n");  // ~400 KiB
  Append(0, log);
  LogFollower f(root_.string(), 7, -1, 4096);
  auto pieces = ReadAll(f, false, 4096);
  ASSERT_GT(pieces.size(), 90u);  // many bounded pieces, not one message
  for (const LogPiece& p : pieces) {
    EXPECT_EQ(p.text.back(), '\n');  // whole lines only
    EXPECT_EQ(p.rank, 0);
    EXPECT_EQ(p.attempt_no, 1);
  }
  EXPECT_EQ(Join(pieces), log);
  // Nothing new: nothing read; new lines: only those.
  EXPECT_TRUE(ReadAll(f, false, 4096).empty());
  Append(0, "more\n");
  EXPECT_EQ(Join(ReadAll(f, false, 4096)), "more\n");
}

TEST_F(LogFollowerTest, TailStartsAtALineNearTheEndAndResumesFromAGivenOffset) {
  std::string log;
  for (int i = 0; i < 1000; ++i) log += absl::StrCat("line ", i, "\n");
  Append(0, log);
  LogFollower f(root_.string(), 7, 0, 4096);
  f.SetTail(100);
  const std::string tail = Join(ReadAll(f, false, 4096));
  // At most the last 100 bytes, from the start of a line, up to the end.
  EXPECT_LE(tail.size(), 100u);
  EXPECT_GT(tail.size(), 80u);
  EXPECT_TRUE(absl::StartsWith(tail, "line ")) << tail;
  EXPECT_TRUE(absl::EndsWith(log, tail));
  EXPECT_EQ(f.Offset(1, 0), static_cast<int64_t>(log.size()));
  // A second follower goes on from an offset the first reported (the page's next poll).
  Append(0, "next\n");
  LogFollower g(root_.string(), 7, 0, 4096);
  g.SetTail(100);
  g.StartAt(1, 0, f.Offset(1, 0));
  EXPECT_EQ(Join(ReadAll(g, false, 4096)), "next\n");
  // A log shorter than the tail is read whole.
  LogFollower h(root_.string(), 7, 0, 4096);
  h.SetTail(1 << 20);
  EXPECT_EQ(Join(ReadAll(h, false, 4096)), log + "next\n");
}

TEST_F(LogFollowerTest, PartialLineWaitsUntilTheFinalRead) {
  Append(0, "whole\npart");
  LogFollower f(root_.string(), 7, -1, 4096);
  EXPECT_EQ(Join(ReadAll(f, false, 4096)), "whole\n");
  EXPECT_TRUE(ReadAll(f, false, 4096).empty());
  EXPECT_EQ(Join(ReadAll(f, true, 4096)), "part\n");
}

TEST_F(LogFollowerTest, LineLongerThanAChunkIsCutAtACharacterBoundary) {
  // 3-byte characters (U+20AC) that do not divide the chunk: no piece splits one.
  std::string line;
  for (int i = 0; i < 1000; ++i) line += "\xE2\x82\xAC";
  Append(0, line + "\n");
  LogFollower f(root_.string(), 7, -1, 100);
  auto pieces = ReadAll(f, false, 100);
  ASSERT_GT(pieces.size(), 1u);
  for (const LogPiece& p : pieces) {
    const std::string body = p.text.back() == '\n' ? p.text.substr(0, p.text.size() - 1) : p.text;
    EXPECT_EQ(body.size() % 3, 0u) << body.size();
  }
  EXPECT_EQ(Join(pieces), line + "\n");
}

TEST_F(LogFollowerTest, StopsWhenTheSinkDoes) {
  Append(0, std::string(10000, 'x') + "\n");
  LogFollower f(root_.string(), 7, -1, 1000);
  int calls = 0;
  EXPECT_FALSE(f.Read(1, true, [&](LogPiece&&) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
}

TEST_F(LogFollowerTest, RanksInOrderAndOneRankOnly) {
  Append(2, "two\n");
  Append(0, "zero\n");
  Append(10, "ten\n");
  LogFollower all(root_.string(), 7, -1, 4096);
  auto pieces = ReadAll(all, true, 4096);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].rank, 0);
  EXPECT_EQ(pieces[1].rank, 2);
  EXPECT_EQ(pieces[2].rank, 10);
  LogFollower one(root_.string(), 7, 2, 4096);
  EXPECT_EQ(Join(ReadAll(one, true, 4096)), "two\n");
}

TEST_F(LogFollowerTest, SymlinksAndSpecialFilesAreNotRead) {
  const fs::path secret = root_ / "secret.txt";
  std::ofstream(secret) << "SECRET\n";
  Append(0, "mine\n");
  fs::create_symlink(secret, Rank(1));            // a linked rank log
  fs::create_hard_link(secret, Rank(2));          // a hard link to another file
  ASSERT_EQ(::mkfifo(Rank(3).c_str(), 0600), 0);  // a FIFO (would block a plain open)
  LogFollower f(root_.string(), 7, -1, 4096);
  EXPECT_EQ(Join(ReadAll(f, true, 4096)), "mine\n");

  // A linked attempt directory, and a linked chain directory.
  fs::create_directories(root_ / "elsewhere");
  std::ofstream(root_ / "elsewhere" / "rank-0.log") << "SECRET\n";
  fs::create_directory_symlink(root_ / "elsewhere", root_ / "7" / "2");
  std::vector<LogPiece> got;
  f.Read(2, true, [&](LogPiece&& p) {
    got.push_back(std::move(p));
    return true;
  });
  EXPECT_TRUE(got.empty());
  fs::create_directories(root_ / "other" / "1");
  std::ofstream(root_ / "other" / "1" / "rank-0.log") << "SECRET\n";
  fs::create_directory_symlink(root_ / "other", root_ / "8");
  LogFollower linked(root_.string(), 8, -1, 4096);
  EXPECT_TRUE(ReadAll(linked, true, 4096).empty());
}

TEST(Utf8SafeCutTest, KeepsWholeCharacters) {
  EXPECT_EQ(Utf8SafeCut("abc", 3), 3u);
  EXPECT_EQ(Utf8SafeCut("ab\xE2\x82", 4), 2u);      // incomplete 3-byte char at the end
  EXPECT_EQ(Utf8SafeCut("ab\xE2\x82\xAC", 5), 5u);  // complete
  EXPECT_EQ(Utf8SafeCut("a\xF0\x9F\x98", 4), 1u);   // incomplete 4-byte char
  EXPECT_EQ(Utf8SafeCut("\xE2\x82", 2), 2u);        // nothing before it: never 0
}

TEST(FollowLimiterTest, PerUserAndTotalCapsAndRelease) {
  FollowLimiter limiter(/*per_user=*/2, /*total=*/3);
  std::optional<FollowLimiter::Slot> a1, a2, a3, b1, c1;
  ASSERT_TRUE(limiter.Acquire("alice", &a1).ok());
  ASSERT_TRUE(limiter.Acquire("alice", &a2).ok());
  // Alice's third: her cap.
  absl::Status s = limiter.Acquire("alice", &a3);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("max_follows_per_user"), absl::string_view::npos) << s;
  EXPECT_FALSE(a3.has_value());
  // Bob gets the last of the total; Carol is over the total.
  ASSERT_TRUE(limiter.Acquire("bob", &b1).ok());
  s = limiter.Acquire("carol", &c1);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("max_follows"), absl::string_view::npos) << s;
  EXPECT_EQ(limiter.active("carol"), 0);
  EXPECT_EQ(limiter.active_total(), 3);
  // A slot ends with its follow.
  a1.reset();
  EXPECT_EQ(limiter.active("alice"), 1);
  EXPECT_TRUE(limiter.Acquire("alice", &a3).ok());
  EXPECT_EQ(limiter.active_total(), 3);
}

}  // namespace
}  // namespace hai::api
