// The generated notebook config: what it binds, where it roots, how it asks haid about each
// request, and that nothing but validated values reaches the Python source.
#include "manager/jupyter_config.h"
#include "manager/jupyter_pod.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hai::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHashA(64, 'a');
const std::string kHashB = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

JupyterPodInfo Info() {
  JupyterPodInfo j;
  j.port = 8899;
  j.workspace = "/data/workspaces/alice";
  return j;
}

TEST(JupyterConfigTest, LoopbackPortRootAndAccessCheckedWithHaid) {
  auto text = JupyterNotebookConfig(Info(), kHashB, /*allow_root=*/true);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.ip = '127.0.0.1'\n"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.port = 8899\n"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.port_retries = 0\n"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.notebook_dir = \"/data/workspaces/alice\"\n"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.allow_root = True\n"));
  // The task token's hash opens /api/status only (the manager's probe); everything else asks
  // haid's jupyter_access endpoint, trusting a yes for half a second.
  EXPECT_THAT(*text, HasSubstr("_HAI_PROBE = \"" + kHashB + "\"\n"));
  EXPECT_THAT(*text, HasSubstr("_HAI_TTL = 0.5\n"));
  EXPECT_THAT(*text, HasSubstr("'/jupyter_access'"));
  EXPECT_THAT(*text, HasSubstr("os.environ.get('HAI_TASK_TOKEN', '')"));
  EXPECT_THAT(*text, HasSubstr("ProxyHandler({})"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.login_handler_class = HaiLoginHandler"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.tornado_settings = {'log_function': _hai_log}"));
  // Jupyter's own plaintext token is off: only hashes are written.
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.token = ''\n"));
}

TEST(JupyterConfigTest, PathsAreQuotedAsPythonStrings) {
  JupyterPodInfo j = Info();
  j.workspace = "/data/x\"; import os; os.system('boom') #";
  auto text = JupyterNotebookConfig(j, kHashA, false);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr(R"(c.NotebookApp.notebook_dir = "/data/x\"; import os;)"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.allow_root = False\n"));
}

TEST(JupyterConfigTest, BadValuesAreRefused) {
  EXPECT_FALSE(JupyterNotebookConfig(Info(), "", false).ok());
  EXPECT_FALSE(JupyterNotebookConfig(Info(), "not-a-hash", false).ok());
  EXPECT_FALSE(JupyterNotebookConfig(Info(), std::string(64, 'A'), false).ok());
  JupyterPodInfo j = Info();
  j.port = 0;
  EXPECT_FALSE(JupyterNotebookConfig(j, kHashA, false).ok());
  auto ok = JupyterNotebookConfig(Info(), kHashA, false);
  ASSERT_TRUE(ok.ok());
  EXPECT_THAT(*ok, Not(HasSubstr("not-a-hash")));
}

TEST(JupyterStatusTest, LastActivityOfTheServer) {
  // Notebook 6 writes UTC with microseconds and a Z; offsets are accepted too.
  auto t = LastActivityFromStatus(
      R"({"connections": 0, "kernels": 1, "last_activity": "2026-12-01T19:40:00.250000Z",
          "started": "2026-12-01T19:00:00.000000Z"})");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, absl::FromUnixMillis(1796154000250));
  EXPECT_EQ(ParseJupyterTime("2026-12-01T20:40:00+01:00"), absl::FromUnixSeconds(1796154000));
  EXPECT_FALSE(LastActivityFromStatus("{}").has_value());
  EXPECT_FALSE(LastActivityFromStatus("not json").has_value());
  EXPECT_FALSE(LastActivityFromStatus(R"({"last_activity": "yesterday"})").has_value());
}

TEST(JupyterConfigTest, InAPodTheServerListensEverywhereAndHoldsNoPath) {
  JupyterPodInfo j = Info();
  j.in_pod = true;
  j.workspace = kPodWorkspace;
  auto text = JupyterNotebookConfig(j, kHashA, true);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.ip = '0.0.0.0'\n"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.allow_remote_access = True\n"));
  EXPECT_THAT(*text, HasSubstr("c.NotebookApp.port = 8899\n"));
  // The root is the container's working directory (the workspace volume).
  EXPECT_THAT(*text, Not(HasSubstr("notebook_dir")));
  EXPECT_THAT(*text, Not(HasSubstr("/hai/")));
  auto local = JupyterNotebookConfig(Info(), kHashA, true);
  ASSERT_TRUE(local.ok());
  EXPECT_THAT(*local, Not(HasSubstr("allow_remote_access")));
}

TEST(JupyterPodTest, WorkspaceVolumeIsTheClaimOrAHostDirectoryPerUser) {
  JupyterPodOptions o;
  o.workspace_host_path = "/srv/ws/";
  storage::Mount host = PodWorkspaceMount(o, "alice");
  EXPECT_EQ(host.type, "workspace");  // hostPath DirectoryOrCreate
  EXPECT_EQ(host.host_path, "/srv/ws/alice");
  EXPECT_EQ(host.mount_path, kPodWorkspace);
  EXPECT_FALSE(host.read_only);
  o.workspace_pvc = "notebooks";
  storage::Mount pvc = PodWorkspaceMount(o, "bob");
  EXPECT_EQ(pvc.type, "pvc");
  EXPECT_EQ(pvc.host_path, "/notebooks/bob");  // the claim, subPath bob
  EXPECT_EQ(pvc.mount_path, kPodWorkspace);
}

}  // namespace
}  // namespace hai::manager
