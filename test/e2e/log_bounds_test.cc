// End-to-end bounds of log reading and of the gRPC API (issue 15): a log of any size comes
// whole through `hai-cli logs` while haid's memory stays flat; a symlink planted in the log
// dir is not followed; `logs -f` is limited per user, and a follower that vanished without
// closing its connection (a stopped process: half-open) is dropped by the server's
// keepalive; handler threads are capped.
#include <signal.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), -1 when unreadable.
int64_t ProcStatusKib(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v(line);
    if (!absl::ConsumePrefix(&v, field + ":")) continue;
    v = absl::StripAsciiWhitespace(v);
    absl::ConsumeSuffix(&v, " kB");
    int64_t kib = -1;
    return absl::SimpleAtoi(v, &kib) ? kib : -1;
  }
  return -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LogBounds : public ::testing::Test {
 protected:
  void Start(const std::string& extra_toml = "") {
    cluster_ = std::make_unique<Cluster>(1, 2, extra_toml);
    cluster_->AddUser("alice", "alice-token");
    cluster_->StartDaemon();
  }
  int64_t SubmitBash(const std::string& body) {
    const std::string script = cluster_->WriteScript(absl::StrCat("job", ++jobs_, ".sh"), body);
    auto r =
        cluster_->Cli("alice", absl::StrCat("bash ", script, " -- --name j", jobs_, " --json"));
    const size_t at = r.output.find("\"chain_id\"");
    if (r.exit_code != 0 || at == std::string::npos) {
      ADD_FAILURE() << "submit failed (exit " << r.exit_code << "): " << r.output;
      return 0;
    }
    return std::stoll(r.output.substr(r.output.find_first_of("0123456789", at)));
  }
  void WaitState(int64_t id, const std::string& state) {
    ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(id) == state; }, 60000))
        << cluster_->CurrentState(id) << "\n"
        << cluster_->DaemonLog();
  }
  std::string RankLogPath(int64_t id, int rank) {
    return absl::StrCat(cluster_->dir(), "/var/logs/", id, "/0/rank-", rank, ".log");
  }
  // `hai-cli ARGS` as alice, killed after `seconds` (exit code 124 then).
  CommandResult CliWithTimeout(int seconds, const std::string& args) {
    return RunCommand(absl::StrCat("timeout ", seconds, " ", BinDir(), "/hai-cli ", args),
                      {{"HAI_CONFIG_DIR", cluster_->dir() + "/home-alice"}});
  }
  // Starts `hai-cli logs -f ID` in the background, its output in `out`; returns its pid.
  pid_t FollowInBackground(int64_t id, const std::string& out) {
    auto r = cluster_->Cli("alice", absl::StrCat("logs -f ", id, " > ", out, " 2>&1 & echo $!"));
    return static_cast<pid_t>(std::stol(r.output));
  }

  std::unique_ptr<Cluster> cluster_;
  int jobs_ = 0;
};

// 50 MiB of output: `hai-cli logs` returns every byte of the rank log (beyond gRPC's 4 MiB
// message limit), and haid's peak RSS while serving it grows by less than 20 MiB (it read
// the whole rest of the file into one message, ~3x the log in memory, before the bound).
TEST_F(LogBounds, FiftyMebibyteLogComesWholeAndHaidMemoryStaysFlat) {
  Start();
  const int64_t id = SubmitBash(
      "yes 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789' | "
      "head -n 700000\necho END-OF-LOG\n");
  WaitState(id, "succeeded");
  const std::string rank_log = RankLogPath(id, 0);
  ASSERT_GT(std::filesystem::file_size(rank_log), 50u << 20);

  const pid_t haid = cluster_->haid_pid();
  const int64_t rss_before = ProcStatusKib(haid, "VmRSS");
  // Resets VmHWM (peak RSS) to the current RSS, so VmHWM afterwards is the peak of the read.
  std::ofstream(absl::StrCat("/proc/", haid, "/clear_refs")) << "5";
  const std::string out = cluster_->dir() + "/logs.out";
  auto r = cluster_->Cli("alice", absl::StrCat("logs ", id, " > ", out));
  const int64_t peak = ProcStatusKib(haid, "VmHWM");
  const int64_t rss_after = ProcStatusKib(haid, "VmRSS");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_GT(rss_before, 0);
  EXPECT_LT(peak - rss_before, 20 * 1024) << "VmRSS before " << rss_before << " KiB, peak " << peak
                                          << " KiB, after " << rss_after << " KiB";
  EXPECT_LT(rss_after - rss_before, 20 * 1024);

  // Every byte, in order: a one-rank task's log is printed as it is on disk.
  const std::string got = ReadAll(out);
  const std::string want = ReadAll(rank_log);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "the printed log differs from the rank log";
  EXPECT_THAT(got.substr(got.size() < 100 ? 0 : got.size() - 100), HasSubstr("END-OF-LOG\n"));
  RecordProperty("haid_rss_before_kib", std::to_string(rss_before));
  RecordProperty("haid_rss_peak_kib", std::to_string(peak));
}

// A symlink named like a rank log (planted in the attempt's log dir) is not followed: its
// target is never printed, while the real rank log still is.
TEST_F(LogBounds, SymlinkInTheLogDirIsRefused) {
  Start();
  const int64_t id = SubmitBash("echo my-own-line\n");
  WaitState(id, "succeeded");
  const std::string secret = cluster_->dir() + "/secret.txt";
  std::ofstream(secret) << "TOP-SECRET-CONTENT\n";
  std::filesystem::create_symlink(secret, RankLogPath(id, 1));
  auto r = cluster_->Cli("alice", absl::StrCat("logs ", id));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("my-own-line"));
  EXPECT_THAT(r.output, Not(HasSubstr("TOP-SECRET")));

  // The rank log itself replaced by a link: refused too.
  std::filesystem::remove(RankLogPath(id, 0));
  std::filesystem::create_symlink(secret, RankLogPath(id, 0));
  r = cluster_->Cli("alice", absl::StrCat("logs ", id));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("TOP-SECRET")));
}

// grpc.max_follows_per_user = 2: a third `logs -f` by the same user is refused with
// RESOURCE_EXHAUSTED naming the limit, while a plain `logs` still works. Followers whose
// process stopped (they answer no keepalive ping: half-open) are dropped by the server within
// a few seconds, which frees their slots.
TEST_F(LogBounds, FollowsPastThePerUserLimitAreRefusedAndHalfOpenOnesDropped) {
  Start("[grpc]\nmax_follows_per_user = 2\nkeepalive_time_s = 1\nkeepalive_timeout_s = 1\n");
  const int64_t id = SubmitBash("echo started\nsleep 600\n");
  WaitState(id, "running");
  const std::string f1 = cluster_->dir() + "/f1.out", f2 = cluster_->dir() + "/f2.out";
  const pid_t p1 = FollowInBackground(id, f1);
  const pid_t p2 = FollowInBackground(id, f2);
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadAll(f1).find("started") != std::string::npos &&
               ReadAll(f2).find("started") != std::string::npos;
      },
      20000))
      << ReadAll(f1) << ReadAll(f2);

  // The third follow: refused at once (not left waiting: `timeout` would give 124).
  auto third = CliWithTimeout(10, absl::StrCat("logs -f ", id));
  EXPECT_EQ(third.exit_code, 5) << third.output;
  EXPECT_THAT(third.output, HasSubstr("max_follows_per_user"));
  // Reading without -f is not a follow.
  auto plain = cluster_->Cli("alice", absl::StrCat("logs ", id));
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_THAT(plain.output, HasSubstr("started"));

  // Both followers stop answering (SIGSTOP: their connections stay open, pings unanswered);
  // the server's keepalive drops them and a new follow is admitted.
  ::kill(p1, SIGSTOP);
  ::kill(p2, SIGSTOP);
  bool admitted = WaitFor(
      [&] {
        auto r = CliWithTimeout(2, absl::StrCat("logs -f ", id));
        return r.exit_code == 124 && r.output.find("started") != std::string::npos;
      },
      30000);
  EXPECT_TRUE(admitted) << "stopped followers still hold their slots";
  for (pid_t p : {p1, p2}) {
    ::kill(p, SIGKILL);
    ::kill(p, SIGCONT);
  }
  auto stop = cluster_->Cli("alice", absl::StrCat("stop ", id));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
}

// grpc.max_threads bounds haid's handler threads: with 8 and 7 follows holding 7 of them, a
// further call is answered RESOURCE_EXHAUSTED at once (gRPC's "Server Threadpool Exhausted")
// instead of costing another thread; once the follows end, calls are served again.
TEST_F(LogBounds, HandlerThreadsAreCapped) {
  Start("[grpc]\nmax_threads = 8\nmax_follows_per_user = 7\nmax_follows = 7\n");
  const int64_t id = SubmitBash("echo started\nsleep 600\n");
  WaitState(id, "running");
  std::vector<pid_t> followers;
  std::vector<std::string> outs;
  // One at a time, retried while the pool is short: each follow's own GetTask and StreamLogs
  // need a thread while the others hold theirs, and gRPC's idle pollers count too, so a
  // follow may transiently be refused as well.
  for (int i = 0; i < 7; ++i) {
    outs.push_back(absl::StrCat(cluster_->dir(), "/follow-", i, ".out"));
    bool started = false;
    for (int attempt = 0; attempt < 20 && !started; ++attempt) {
      const pid_t p = FollowInBackground(id, outs.back());
      ASSERT_TRUE(WaitFor(
          [&] {
            const std::string out = ReadAll(outs.back());
            return out.find("started") != std::string::npos ||
                   out.find("Exhausted") != std::string::npos;
          },
          20000))
          << "follow " << i << ": " << ReadAll(outs.back());
      started = ReadAll(outs.back()).find("started") != std::string::npos;
      if (started) followers.push_back(p);
    }
    ASSERT_TRUE(started) << "follow " << i << ": " << ReadAll(outs.back());
  }
  auto refused = CliWithTimeout(10, "list");
  EXPECT_EQ(refused.exit_code, 5) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("Threadpool Exhausted"));
  for (pid_t p : followers) ::kill(p, SIGTERM);
  EXPECT_TRUE(WaitFor([&] { return CliWithTimeout(10, "list").exit_code == 0; }, 20000));
  auto stop = cluster_->Cli("alice", absl::StrCat("stop ", id));
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
}

}  // namespace
}  // namespace hai::testing
