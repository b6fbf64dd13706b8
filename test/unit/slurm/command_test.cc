// The shell-less command runner (common/command.h) with real processes.
#include "common/command.h"

#include <gtest/gtest.h>

namespace hai {
namespace {

CommandOptions Opts(absl::Duration timeout = absl::Seconds(5)) {
  CommandOptions o;
  o.timeout = timeout;
  o.env = {"PATH=/usr/bin:/bin"};
  return o;
}

TEST(Command, CollectsOutputExitCodeAndStdinWithoutAShell) {
  CommandOptions o = Opts();
  o.stdin_data = "from stdin; $(not expanded)\n";
  auto r = RunCommand({"sh", "-c", "cat; echo err >&2; exit 3"}, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "from stdin; $(not expanded)\n");
  EXPECT_EQ(r->err, "err\n");
  // Arguments reach the program as they are.
  r = RunCommand({"printf", "%s|", "a b", "$HOME", "'q'"}, Opts());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "a b|$HOME|'q'|");
}

TEST(Command, TheEnvironmentIsOnlyWhatIsGiven) {
  CommandOptions o = Opts();
  o.env.push_back("ONLY=this");
  auto r = RunCommand({"env"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "PATH=/usr/bin:/bin\nONLY=this\n");
}

TEST(Command, TypedErrors) {
  EXPECT_EQ(RunCommand({"no-such-program-hai"}, Opts()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RunCommand({}, Opts()).status().code(), absl::StatusCode::kInvalidArgument);
  // A command past its deadline is killed, with what it started.
  auto r = RunCommand({"sh", "-c", "sleep 30 & sleep 30"}, Opts(absl::Milliseconds(300)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  // Also one that closed its output and keeps running.
  r = RunCommand({"sh", "-c", "exec >/dev/null 2>&1; sleep 30"}, Opts(absl::Milliseconds(300)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  CommandOptions small = Opts();
  small.max_output_bytes = 1000;
  EXPECT_EQ(RunCommand({"head", "-c", "100000", "/dev/zero"}, small).status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace hai
