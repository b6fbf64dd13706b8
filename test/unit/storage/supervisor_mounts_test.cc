// Mounts travel from the PodSpec to the rank supervisor through its argv; they must
// round-trip exactly, whatever the paths contain.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manager/runtime/local/mount_namespace.h"
#include "manager/runtime/local/rank_supervisor.h"

namespace hai::manager {
namespace {

using ::testing::ElementsAre;

TEST(SupervisorMountsTest, RoundTrip) {
  PodSpec spec;
  spec.argv = {"bash", "job.sh", "--mount", "x"};
  spec.log_path = "/l";
  spec.exit_path = "/e";
  spec.mounts = {
      {.host_path = "/srv/ds x", .mount_path = "/datasets/x", .read_only = true,
       .type = "bind", .row_id = 4},
      {.host_path = "/srv/ws/alice", .mount_path = "/ws/--", .read_only = false,
       .type = "workspace", .row_id = 9},
  };
  std::vector<std::string> argv = SupervisorArgv("/bin/hai-manager", spec);
  auto opts = ParseSupervisorArgs({argv.begin() + 2, argv.end()});
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->mounts, spec.mounts);
  // "--mount" inside the user command stays part of it.
  EXPECT_THAT(opts->argv, ElementsAre("bash", "job.sh", "--mount", "x"));
}

TEST(SupervisorMountsTest, NoMountsNoFlags) {
  PodSpec spec;
  spec.argv = {"true"};
  spec.log_path = "/l";
  spec.exit_path = "/e";
  for (const std::string& a : SupervisorArgv("/bin/hai-manager", spec)) EXPECT_NE(a, "--mount");
}

TEST(SupervisorMountsTest, RejectsMalformedMounts) {
  const std::vector<std::string> base = {"--log-file", "/l", "--exit-file", "/e"};
  auto with = [&](std::vector<std::string> mount) {
    std::vector<std::string> args = base;
    args.push_back("--mount");
    args.insert(args.end(), mount.begin(), mount.end());
    args.insert(args.end(), {"--", "true"});
    return ParseSupervisorArgs(args);
  };
  EXPECT_TRUE(with({"ro", "bind", "1", "/a", "/b"}).ok());
  EXPECT_FALSE(with({"rx", "bind", "1", "/a", "/b"}).ok());
  EXPECT_FALSE(with({"ro", "bind", "one", "/a", "/b"}).ok());
  EXPECT_FALSE(with({"ro", "bind", "1", "a", "/b"}).ok());
  EXPECT_FALSE(with({"ro", "bind", "1", "/a", "/"}).ok());
  EXPECT_FALSE(ParseSupervisorArgs({"--log-file", "/l", "--exit-file", "/e", "--mount", "ro",
                                    "bind", "1", "/a"})
                   .ok());
}

TEST(SupervisorMountsTest, EmptyListNeedsNothing) {
  // No mounts: no namespace, no root needed, nothing changes.
  EXPECT_TRUE(EnterMountNamespace({}).ok());
}

}  // namespace
}  // namespace hai::manager
