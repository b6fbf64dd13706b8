// Files the local runtime and a relaunched manager rely on: exit files, run files, and the
// supervisor's command line (it must round-trip through argv).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manager/run_files.h"
#include "manager/runtime/local/exit_file.h"
#include "manager/runtime/local/rank_supervisor.h"

namespace hai::manager {
namespace {

using ::testing::ElementsAre;

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "hai-mgr-unit-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

TEST(ExitFileTest, RoundTrip) {
  const std::string path = TempDir() + "/rank-0.exit";
  auto missing = ReadExitFile(path);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());  // not ended yet
  ASSERT_TRUE(WriteExitFile(path, 143).ok());
  auto code = ReadExitFile(path);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(**code, 143);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(ExitFileTest, ReasonIsASecondLine) {
  const std::string path = TempDir() + "/rank-0.exit";
  EXPECT_EQ(ReadExitReason(path), "");
  ASSERT_TRUE(WriteExitFile(path, 137, "killed\nby itself").ok());
  auto code = ReadExitFile(path);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(**code, 137);
  EXPECT_EQ(ReadExitReason(path), "killed by itself");
  ASSERT_TRUE(WriteExitFile(path, 0).ok());
  EXPECT_EQ(ReadExitReason(path), "");
}

// A command killed by a SIGKILL hai did not send says so on a third line; other ends do not.
TEST(ExitFileTest, SelfInflictedIsAThirdLine) {
  const std::string path = TempDir() + "/rank-0.exit";
  EXPECT_FALSE(ReadExitSelfInflicted(path));
  ASSERT_TRUE(WriteExitFile(path, 137, "killed by SIGKILL", /*self_inflicted=*/true).ok());
  EXPECT_TRUE(ReadExitSelfInflicted(path));
  EXPECT_EQ(ReadExitReason(path), "killed by SIGKILL");
  EXPECT_EQ(**ReadExitFile(path), 137);
  // Without a reason the flag still has its line.
  ASSERT_TRUE(WriteExitFile(path, 137, "", true).ok());
  EXPECT_TRUE(ReadExitSelfInflicted(path));
  ASSERT_TRUE(WriteExitFile(path, 137, "stopped").ok());
  EXPECT_FALSE(ReadExitSelfInflicted(path));
  ASSERT_TRUE(WriteExitFile(path, 0).ok());
  EXPECT_FALSE(ReadExitSelfInflicted(path));
}

TEST(ExitFileTest, MalformedIsDataLoss) {
  const std::string path = TempDir() + "/rank-0.exit";
  std::ofstream(path) << "abc";
  EXPECT_EQ(ReadExitFile(path).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RunFilesTest, TokenFileIsPrivateAndRoundTrips) {
  const std::string path = TempDir() + "/token";
  EXPECT_FALSE(ReadRunFile(path).has_value());
  ASSERT_TRUE(WriteRunFile(path, "secret").ok());
  EXPECT_EQ(ReadRunFile(path), "secret");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(RunFilesTest, PickFreePortGivesAUsablePort) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

TEST(SupervisorArgsTest, RoundTripThroughArgv) {
  PodSpec spec;
  spec.argv = {"python3", "train.py", "--", "--flag"};
  spec.log_path = "/d/rank-0.log";
  spec.exit_path = "/d/rank-0.exit";
  spec.cwd = "/w";
  spec.required_file = "train.py";
  std::vector<std::string> argv = SupervisorArgv("/bin/hai-manager", spec);
  ASSERT_GE(argv.size(), 2u);
  EXPECT_EQ(argv[1], kRankSupervisorFlag);
  auto opts = ParseSupervisorArgs({argv.begin() + 2, argv.end()});
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->log_path, "/d/rank-0.log");
  EXPECT_EQ(opts->exit_path, "/d/rank-0.exit");
  EXPECT_EQ(opts->cwd, "/w");
  EXPECT_EQ(opts->required_file, "train.py");
  // A "--" inside the user command stays part of it.
  EXPECT_THAT(opts->argv, ElementsAre("python3", "train.py", "--", "--flag"));
}

TEST(SupervisorArgsTest, IdentityAndEnvironmentDescriptor) {
  PodSpec spec;
  spec.argv = {"true"};
  spec.log_path = "/l";
  spec.exit_path = "/e";
  spec.uid = 20001;
  spec.gid = 20002;
  spec.supplementary_gids = {30, 31};
  // Without run_as the identity is not passed: the command runs as the supervisor.
  auto plain = ParseSupervisorArgs([&] {
    auto a = SupervisorArgv("/bin/hai-manager", spec);
    return std::vector<std::string>(a.begin() + 2, a.end());
  }());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->uid, -1);
  EXPECT_EQ(plain->env_fd, -1);
  std::vector<std::string> argv = SupervisorArgv("/bin/hai-manager", spec, true, 7);
  auto opts = ParseSupervisorArgs({argv.begin() + 2, argv.end()});
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->uid, 20001);
  EXPECT_EQ(opts->gid, 20002);
  EXPECT_THAT(opts->groups, ElementsAre(30, 31));
  EXPECT_EQ(opts->env_fd, 7);
  EXPECT_THAT(opts->argv, ElementsAre("true"));
  EXPECT_FALSE(ParseSupervisorArgs({"--run-as", "1", "--", "true"}).ok());
  EXPECT_FALSE(ParseSupervisorArgs({"--run-as", "1:x", "--", "true"}).ok());
  EXPECT_FALSE(ParseSupervisorArgs({"--run-as", "1:2:a", "--", "true"}).ok());
  EXPECT_FALSE(ParseSupervisorArgs({"--env-fd", "-3", "--", "true"}).ok());
}

TEST(SupervisorArgsTest, RejectsMissingCommand) {
  EXPECT_FALSE(ParseSupervisorArgs({"--log-file", "/l", "--exit-file", "/e", "--"}).ok());
  EXPECT_FALSE(ParseSupervisorArgs({"--bogus", "x", "--", "true"}).ok());
}

TEST(SupervisorArgsTest, EmptyValuesSurvive) {
  PodSpec spec;
  spec.argv = {"true"};
  spec.log_path = "/l";
  spec.exit_path = "/e";
  std::vector<std::string> argv = SupervisorArgv("/bin/hai-manager", spec);
  auto opts = ParseSupervisorArgs({argv.begin() + 2, argv.end()});
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->cwd, "");
  EXPECT_EQ(opts->required_file, "");
  EXPECT_THAT(opts->argv, ElementsAre("true"));
}

}  // namespace
}  // namespace hai::manager
