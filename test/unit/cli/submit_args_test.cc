// Tests of the submit command line: where the script's arguments end and hai's begin, and
// how hai's options are read. Each case is a command line a user could plausibly type.
#include "cli/submit_args.h"

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hai::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(ParseSubmitArgs, ScriptArgsThatLookLikeHaiOptionsStayWithTheScript) {
  // -n 3 and -p before `--` belong to train.py; -n 4 -p HIGH after it are hai's.
  auto args = ParseSubmitArgs(
      {"train.py", "--lr", "0.1", "-n", "3", "-p", "x", "--", "-n", "4", "-p", "HIGH"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->script, "train.py");
  EXPECT_THAT(args->script_args, ElementsAre("--lr", "0.1", "-n", "3", "-p", "x"));
  EXPECT_EQ(args->nodes, 4);
  EXPECT_EQ(args->priority, "HIGH");
}

TEST(ParseSubmitArgs, WithoutSeparatorEverythingGoesToTheScript) {
  auto args = ParseSubmitArgs({"train.py", "-n", "2", "-f"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->script_args, ElementsAre("-n", "2", "-f"));
  EXPECT_FALSE(args->nodes.has_value());
  EXPECT_FALSE(args->follow);
}

TEST(ParseSubmitArgs, LastSeparatorWinsSoScriptsCanReceiveDoubleDash) {
  // `a -- b` reaches the script; the second `--` starts hai's options.
  auto args = ParseSubmitArgs({"train.py", "a", "--", "b", "--", "-n", "2"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->script_args, ElementsAre("a", "--", "b"));
  EXPECT_EQ(args->nodes, 2);
}

TEST(ParseSubmitArgs, WordsAfterTheSeparatorMustBeHaiOptions) {
  // `b` after the only `--` is not a hai option: the user learns before anything runs.
  auto args = ParseSubmitArgs({"train.py", "a", "--", "b"});
  ASSERT_FALSE(args.ok());
  EXPECT_TRUE(IsUsageError(args.status()));
}

TEST(ParseSubmitArgs, TrailingSeparatorMeansNoHaiOptions) {
  auto args = ParseSubmitArgs({"train.py", "x", "--"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->script_args, ElementsAre("x"));
  EXPECT_FALSE(args->nodes.has_value());
}

TEST(ParseSubmitArgs, AllHaiOptions) {
  auto args = ParseSubmitArgs({"run.sh", "--",           "-n",     "2",     "-g", "a100",
                               "-p",     "30",           "-i",     "img:1", "-e", "A=1",
                               "-e",     "B=x=y",        "--name", "exp1",  "-f", "--environment",
                               "torch2", "--life-state", "3",      "--json"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->script_args, IsEmpty());
  EXPECT_EQ(args->nodes, 2);
  EXPECT_EQ(args->group, "a100");
  EXPECT_EQ(args->priority, "HIGH");  // numbers are normalised to the tier name
  EXPECT_EQ(args->image, "img:1");
  EXPECT_THAT(args->env, ElementsAre(Pair("A", "1"), Pair("B", "x=y")));
  EXPECT_EQ(args->name, "exp1");
  EXPECT_TRUE(args->follow);
  EXPECT_EQ(args->environment, "torch2");
  EXPECT_EQ(args->whole_life_state, 3);
  EXPECT_TRUE(args->json);
}

TEST(ParseSubmitArgs, UsualOptionSpellings) {
  auto args = ParseSubmitArgs({"t.py", "--", "-n4", "--group=g", "--priority", "very_high"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->nodes, 4);
  EXPECT_EQ(args->group, "g");
  EXPECT_EQ(args->priority, "VERY_HIGH");
}

TEST(ParseSubmitArgs, MissingScript) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{}, std::vector<std::string>{"--", "-n", "2"}}) {
    auto args = ParseSubmitArgs(argv);
    ASSERT_FALSE(args.ok());
    EXPECT_TRUE(IsUsageError(args.status()));
    EXPECT_THAT(args.status().message(), HasSubstr("missing SCRIPT"));
  }
}

TEST(ParseSubmitArgs, OptionBeforeScriptIsRejected) {
  auto args = ParseSubmitArgs({"-n", "2", "train.py"});
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.status().message(), HasSubstr("after `--`"));
}

TEST(ParseSubmitArgs, BadValues) {
  const std::vector<std::vector<std::string>> cases = {
      {"t.py", "--", "-e", "NOEQUALS"},          // -e without '='
      {"t.py", "--", "-e", "=v"},                // empty name
      {"t.py", "--", "-e", "1A=v"},              // name starting with a digit
      {"t.py", "--", "-n", "0"},                 // nodes must be positive
      {"t.py", "--", "-n", "two"},               // not a number
      {"t.py", "--", "-p", "URGENT"},            // unknown tier
      {"t.py", "--", "--bogus"},                 // unknown option
      {"t.py", "--", "-n", "2", "--gpus", "4"},  // partial nodes only for one node
  };
  for (const auto& argv : cases) {
    auto args = ParseSubmitArgs(argv);
    ASSERT_FALSE(args.ok()) << argv.back();
    EXPECT_TRUE(IsUsageError(args.status())) << args.status();
    EXPECT_EQ(ExitCodeFor(args.status()), kExitUsage);
  }
}

TEST(ParseSubmitArgs, TimeLimitInUsualSpellings) {
  const std::vector<std::pair<std::vector<std::string>, int64_t>> cases = {
      {{"t.py", "--", "-t", "2h"}, 7200},           {{"t.py", "--", "-t", "90m"}, 5400},
      {{"t.py", "--", "--time-limit=1h30m"}, 5400}, {{"t.py", "--", "-t", "2d"}, 2 * 86400},
      {{"t.py", "--", "-t", "1d12h"}, 36 * 3600},   {{"t.py", "--", "-t45s"}, 45},
  };
  for (const auto& [argv, seconds] : cases) {
    auto args = ParseSubmitArgs(argv);
    ASSERT_TRUE(args.ok()) << argv.back() << ": " << args.status();
    EXPECT_EQ(args->time_limit_s, seconds) << argv.back();
  }
  auto none = ParseSubmitArgs({"t.py", "--", "-n", "2"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->time_limit_s, 0);  // none given
}

TEST(ParseSubmitArgs, BadTimeLimits) {
  for (const std::string bad : {"90", "0m", "-1h", "abc", "2x", "d", "1d2"}) {
    auto args = ParseSubmitArgs({"t.py", "--", "-t", bad});
    ASSERT_FALSE(args.ok()) << bad;
    EXPECT_TRUE(IsUsageError(args.status())) << bad;
    EXPECT_THAT(args.status().message(), HasSubstr(bad)) << bad;
  }
}

// Found by fuzz/cli_args_fuzz.cc: "1dinf" overflowed int64 (UBSan: signed integer overflow),
// and "inf" or a huge number of hours was accepted as a limit of centuries.
TEST(ParseTimeLimit, InfiniteAndHugeLimitsAreUsageErrors) {
  for (const std::string bad :
       {"1dinf", "inf", "366d1s", "2562047788015215h", "1d2562047788015h"}) {
    auto s = ParseTimeLimit(bad);
    ASSERT_FALSE(s.ok()) << bad << " -> " << *s;
    EXPECT_TRUE(IsUsageError(s.status())) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("at most 366d")) << bad;
  }
  EXPECT_EQ(ParseTimeLimit("366d").value_or(0), 366 * 86400);
  EXPECT_EQ(ParseTimeLimit("365d24h").value_or(0), 366 * 86400);
}

TEST(ParseSubmitArgs, BadEnvMessageNamesTheValue) {
  auto args = ParseSubmitArgs({"t.py", "--", "-e", "FOO"});
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.status().message(), HasSubstr("'FOO'"));
  EXPECT_THAT(args.status().message(), HasSubstr("K=V"));
}

TEST(ParseEnvAssignment, EmptyValueIsAllowed) {
  auto kv = ParseEnvAssignment("EMPTY=");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->first, "EMPTY");
  EXPECT_EQ(kv->second, "");
}

TEST(DefaultTaskName, StripsDirectoryAndExtension) {
  EXPECT_EQ(DefaultTaskName("train.py"), "train");
  EXPECT_EQ(DefaultTaskName("exp/run.v2.sh"), "run.v2");
  EXPECT_EQ(DefaultTaskName("/abs/noext"), "noext");
}

class ResolveScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("hai_cli_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "sub");
    std::ofstream(dir_ / "sub" / "train.py") << "print(1)\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(ResolveScriptTest, RelativeToCwdAndNormalised) {
  auto path = ResolveScript("./sub/../sub/train.py", dir_);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, dir_ / "sub" / "train.py");
  EXPECT_TRUE(path->is_absolute());
}

TEST_F(ResolveScriptTest, MissingFile) {
  auto path = ResolveScript("nope.py", dir_);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().message(), "no such file: nope.py");
  EXPECT_EQ(ExitCodeFor(path.status()), kExitUsage);
}

TEST_F(ResolveScriptTest, DirectoryIsNotAScript) {
  auto path = ResolveScript("sub", dir_);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().message(), "not a regular file: sub");
}

TEST(BuildSubmitRequest, FillsEveryField) {
  auto args = ParseSubmitArgs({"sub/train.py", "-x", "--", "-e", "K=V", "--gpus", "2", "-t", "3h"});
  ASSERT_TRUE(args.ok()) << args.status();
  const hai::v1::SubmitRequest req = BuildSubmitRequest(*args, "python", "/w/sub/train.py", "/w");
  EXPECT_EQ(req.name(), "train");
  EXPECT_EQ(req.entrypoint(), "/w/sub/train.py");
  EXPECT_THAT(req.args(), ElementsAre("-x"));
  EXPECT_EQ(req.workdir(), "/w");
  EXPECT_EQ(req.nodes(), 1);
  EXPECT_EQ(req.gpus_per_node(), 2);
  EXPECT_EQ(req.time_limit_s(), 3 * 3600);
  EXPECT_EQ(req.kind(), "python");
  EXPECT_FALSE(req.has_priority());  // the server's default applies
  EXPECT_EQ(req.env().at("K"), "V");
}

}  // namespace
}  // namespace hai::cli
