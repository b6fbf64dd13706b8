// A Jupyter container's attempt in AttemptLifecycle: the container row is read before the
// rank starts, the rank's PodSpec serves the notebook port, and every heartbeat the server's
// address and readiness are reported (the probe is scripted, so no HTTP is spoken).
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test/unit/manager/lifecycle_fixture.h"

namespace hai::manager::testing {
namespace {

using model::AttemptState;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class JupyterLifecycleTest : public LifecycleTest {
 protected:
  void SetUp() override {
    LifecycleTest::SetUp();
    Seed(1, AttemptState::kScheduled);
    store_.attempt.kind = model::TaskKind::kJupyter;
    // The Kubernetes shape: the server runs in its Pod on the fixed port, so nothing of the
    // container is written on this machine.
    options_.jupyter.in_pod = true;
    options_.jupyter.pod_port = 8888;
    options_.jupyter.probe = [this](const std::string& host, int port,
                                    const std::string& token) -> std::optional<std::string> {
      probes_.push_back(absl::StrCat(host, ":", port));
      EXPECT_FALSE(token.empty());
      return answer_;
    };
  }

  std::vector<std::string> probes_;
  std::optional<std::string> answer_;  // the server's /api/status body; nullopt: not up
};

TEST_F(JupyterLifecycleTest, WithoutItsContainerRowTheAttemptFails) {
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(State(), AttemptState::kFailed);
  EXPECT_EQ(store_.finish->exit_code, 127);
  EXPECT_THAT(store_.finish->end_reason, HasSubstr("jupyter: no container row"));
  EXPECT_EQ(runtime_.starts, 0);
}

TEST_F(JupyterLifecycleTest, ReportsAddressThenReadinessAndStopsOnRequest) {
  store_.jupyter = JupyterPodInfo{.cpu_millis = 2000, .memory_mib = 4096, .gpus = 1};
  clock_.At(absl::Seconds(3), [&] { runtime_.service_host = "10.0.0.5"; });
  clock_.At(absl::Seconds(7), [&] { answer_ = R"({"last_activity": "2026-01-02T03:04:05Z"})"; });
  clock_.At(absl::Seconds(11), [&] { store_.stop_requested = true; });
  EXPECT_EQ(Run(), 0);
  // The rank serves the notebook port with the container's resources.
  const PodSpec& spec = runtime_.ranks[0].spec;
  EXPECT_EQ(spec.container_port, 8888);
  EXPECT_EQ(spec.cpu_millis, 2000);
  EXPECT_EQ(spec.memory_mib, 4096);
  // The address once known (4 s), the first answer (8 s); an unchanged activity is not
  // reported again (10 s).
  EXPECT_THAT(store_.jupyter_reports,
              ElementsAre("address 10.0.0.5:8888", "status 2026-01-02T03:04:05+00:00"));
  // Asked every heartbeat from 4 s until the stop is decided at 12 s, never while terminating.
  EXPECT_EQ(probes_.size(), 5u);
  EXPECT_THAT(probes_, Each(std::string("10.0.0.5:8888")));
  EXPECT_EQ(State(), AttemptState::kStopped);
}

}  // namespace
}  // namespace hai::manager::testing
