// The web dashboard in a real browser (issue 19): starts a real haid (2 nodes x 1 GPU, real
// managers) with alice's LOW task running on both GPUs, then runs dashboard_test.js, which
// drives Debian's headless Chromium through puppeteer-core against haid's side port: sign-in,
// a HIGH task of bob's taking a GPU on the open map, the LOW task's timeline (suspension,
// preemptor, resume), bob refused alice's task, markup in a name and a log line shown as
// text, CSRF refusals, an admin's cordon and drain from the map, and the usage page for a
// window against `hai-cli usage --json`. Screenshots: <build>/test/browser/artifacts/.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"
#include "test/support/test_env.h"

namespace hai::testing {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Prints "<script>" now and then (a log line of markup), and suspends when told to.
constexpr char kLowScript[] = R"PY(
import sys, time
import hai
print("<script>alert('log')</script> argv=%s" % sys.argv[1:], flush=True)
for i in range(6000):
    time.sleep(0.1)
    if i % 20 == 0:
        print("<script> step %d" % i, flush=True)
    if hai.receive_suspend_command():
        print("suspend notice, going", flush=True)
        hai.go_suspend()
        time.sleep(600)
)PY";

TEST(DashboardBrowser, SignInPreemptionTimelineAuthorizationAndEscaping) {
  Cluster cluster(2, 1, "");
  cluster.AddUser("alice", "alice-token-dash");
  cluster.AddUser("bob", "bob-token-dash");
  cluster.AddUser("boss", "admin-token-dash", "admin");
  cluster.StartDaemon();
  const std::string low_py = cluster.WriteScript("low.py", kLowScript);
  const std::string quick = cluster.WriteScript(
      "quick.py", "import time\nprint('high priority work', flush=True)\ntime.sleep(6)\n");
  // An argument of markup is valid user input; the name is set by SQL below (submit only
  // takes plain names, but names written by admins' SQL are not checked).
  auto r = cluster.Cli("alice", absl::StrCat("python ", low_py,
                                             " '<img src=x onerror=alert(2)>' -- -n 2 -p LOW "
                                             "--name low -e PYTHONPATH=",
                                             HAI_SOURCE_DIR, "/python --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const size_t at = r.output.find("\"chain_id\"");
  ASSERT_NE(at, std::string::npos) << r.output;
  const int64_t low = std::stoll(r.output.substr(r.output.find_first_of("0123456789", at)));
  cluster.db().Exec(absl::StrCat(
      "UPDATE chains SET name = '<img src=x onerror=alert(1)>' WHERE chain_id = ", low));
  ASSERT_TRUE(WaitFor([&] { return cluster.CurrentState(low) == "running"; }, 30000))
      << cluster.DaemonLog();

  const std::string artifacts = std::string(HAI_BINARY_DIR) + "/artifacts";
  RunCommand("rm -rf " + Quote(artifacts) + " && mkdir -p " + Quote(artifacts));
  const std::string submit_high = absl::StrCat(
      "cd ", Quote(cluster.dir()), " && HAI_CONFIG_DIR=", Quote(cluster.dir() + "/home-bob"), " ",
      BinDir(), "/hai-cli python ", quick, " -- -n 1 -p HIGH --name high --json");
  const CommandResult test = RunCommand(
      absl::StrCat(HAI_NODE, " ", HAI_SOURCE_DIR, "/test/browser/dashboard_test.js 2>&1"),
      {{"NODE_PATH", std::string(HAI_NODE_MODULES)},
       {"HAI_DASH_URL", absl::StrCat("http://127.0.0.1:", cluster.http_port())},
       {"HAI_ALICE_TOKEN", "alice-token-dash"},
       {"HAI_BOB_TOKEN", "bob-token-dash"},
       {"HAI_ADMIN_TOKEN", "admin-token-dash"},
       {"HAI_LOW_CHAIN", std::to_string(low)},
       {"HAI_SUBMIT_HIGH", submit_high},
       {"HAI_CLI_ADMIN", absl::StrCat("cd ", Quote(cluster.dir()),
                                      " && HAI_CONFIG_DIR=", Quote(cluster.dir() + "/home-boss"),
                                      " ", BinDir(), "/hai-cli")},
       {"HAI_ARTIFACTS", artifacts}});
  std::cout << test.output;
  EXPECT_EQ(test.exit_code, 0) << test.output << "\n--- haid log ---\n" << cluster.DaemonLog();
  // Tokens never reach haid's log (sign-in bodies and session cookies are not logged).
  const std::string log = cluster.DaemonLog();
  for (const char* token : {"alice-token-dash", "bob-token-dash", "admin-token-dash"}) {
    EXPECT_EQ(log.find(token), std::string::npos) << token << " appears in haid's log";
  }
}

}  // namespace
}  // namespace hai::testing
