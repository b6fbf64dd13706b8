// Pod objects as the API reports them -> the lifecycle's PodStatus (manager/runtime/
// kubernetes/pod_state.h), one case per phase and container state.
#include "manager/runtime/kubernetes/pod_state.h"

#include <gtest/gtest.h>

namespace hai::testing {
namespace {

using manager::PodStatus;
using manager::kube::ContainerStarted;
using manager::kube::MapPod;
using manager::kube::PodTimeouts;
using manager::kube::UidId;
using nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

json Pod(const std::string& phase, json container_state = nullptr, json conditions = nullptr) {
  json status = {{"phase", phase}};
  if (!container_state.is_null()) {
    status["containerStatuses"] = json::array({{{"name", "task"}, {"state", container_state}}});
  }
  if (!conditions.is_null()) status["conditions"] = conditions;
  return {{"metadata", {{"name", "hai-1-0"}, {"uid", "u"}}}, {"status", status}};
}

PodTimeouts Timeouts() { return {absl::Minutes(5), absl::Minutes(3)}; }

TEST(PodStateTest, RunningAndPendingPodsRun) {
  PodStatus st =
      MapPod(Pod("Running", {{"running", {{"startedAt", "x"}}}}), true, kT0, kT0, Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kRunning);
  EXPECT_TRUE(st.alive);
  EXPECT_TRUE(st.started);
  st = MapPod(Pod("Pending"), true, kT0, kT0 + absl::Hours(1), Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kRunning);  // pending without an error: still coming
  EXPECT_FALSE(st.started);                         // ... and its pods row reads 'starting'
  // Unknown: the node stopped reporting; Kubernetes decides, we keep waiting.
  EXPECT_EQ(MapPod(Pod("Unknown"), true, kT0, kT0, Timeouts()).phase, PodStatus::Phase::kRunning);
}

TEST(PodStateTest, TerminatedContainerGivesItsExitCode) {
  PodStatus st = MapPod(Pod("Failed", {{"terminated", {{"exitCode", 3}, {"reason", "Error"}}}}),
                        true, kT0, kT0, Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kExited);
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_TRUE(st.alive);  // the object still exists: not gone yet
  // SIGTERM during a graceful delete, then the object disappears.
  st = MapPod(Pod("Failed", {{"terminated", {{"exitCode", 143}}}}), false, kT0, kT0, Timeouts());
  EXPECT_EQ(st.exit_code, 143);
  EXPECT_FALSE(st.alive);
  st = MapPod(Pod("Failed", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}), true,
              kT0, kT0, Timeouts());
  EXPECT_NE(st.reason.find("OOMKilled"), std::string::npos);
  EXPECT_EQ(MapPod(Pod("Succeeded"), true, kT0, kT0, Timeouts()).phase, PodStatus::Phase::kExited);
}

// A SIGKILL hai did not send (hai kills only by deleting the Pod) is the task's own doing:
// OOMKilled, or exit 137 without a deletionTimestamp. Not while hai deletes the Pod.
TEST(PodStateTest, KilledWithoutADeleteIsSelfInflicted) {
  PodStatus st =
      MapPod(Pod("Failed", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}), true,
             kT0, kT0, Timeouts());
  EXPECT_TRUE(st.self_inflicted);
  st = MapPod(Pod("Failed", {{"terminated", {{"exitCode", 137}, {"reason", "Error"}}}}), true, kT0,
              kT0, Timeouts());
  EXPECT_TRUE(st.self_inflicted);
  json deleting = Pod("Failed", {{"terminated", {{"exitCode", 137}, {"reason", "Error"}}}});
  deleting["metadata"]["deletionTimestamp"] = "2026-12-06T00:00:00Z";
  EXPECT_FALSE(MapPod(deleting, true, kT0, kT0, Timeouts()).self_inflicted);
  EXPECT_FALSE(MapPod(Pod("Failed", {{"terminated", {{"exitCode", 3}, {"reason", "Error"}}}}), true,
                      kT0, kT0, Timeouts())
                   .self_inflicted);
}

TEST(PodStateTest, EvictedOrDeletedPodIsLost) {
  json evicted = Pod("Failed");
  evicted["status"]["reason"] = "Evicted";
  evicted["status"]["message"] = "The node was low on resource: memory.";
  PodStatus st = MapPod(evicted, true, kT0, kT0, Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kLost);
  EXPECT_NE(st.reason.find("Evicted"), std::string::npos);
  st = MapPod(Pod("Running", {{"running", json::object()}}), false, kT0, kT0, Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kLost);
  EXPECT_FALSE(st.alive);
  EXPECT_EQ(MapPod(nullptr, false, kT0, kT0, Timeouts()).phase, PodStatus::Phase::kLost);
}

TEST(PodStateTest, ImagePullFailureFailsTheRankAfterTheTimeout) {
  json pull =
      Pod("Pending",
          {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "Back-off pulling image"}}}});
  EXPECT_EQ(MapPod(pull, true, kT0, kT0 + absl::Minutes(4), Timeouts()).phase,
            PodStatus::Phase::kRunning);
  PodStatus st = MapPod(pull, true, kT0, kT0 + absl::Minutes(5), Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kExited);
  EXPECT_EQ(st.exit_code, 127);
  EXPECT_NE(st.reason.find("ImagePullBackOff"), std::string::npos) << st.reason;
  EXPECT_NE(st.reason.find("5m"), std::string::npos) << st.reason;
  // A name that can never be pulled fails at once.
  st = MapPod(Pod("Pending", {{"waiting", {{"reason", "InvalidImageName"}}}}), true, kT0, kT0,
              Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kExited);
  EXPECT_EQ(st.exit_code, 127);
  // ContainerCreating is normal, however long volumes take.
  EXPECT_EQ(MapPod(Pod("Pending", {{"waiting", {{"reason", "ContainerCreating"}}}}), true, kT0,
                   kT0 + absl::Hours(1), Timeouts())
                .phase,
            PodStatus::Phase::kRunning);
}

TEST(PodStateTest, UnschedulableRankIsLostAfterTheTimeout) {
  json pod =
      Pod("Pending", nullptr,
          json::array({{{"type", "PodScheduled"},
                        {"status", "False"},
                        {"reason", "Unschedulable"},
                        {"message", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}}}));
  EXPECT_EQ(MapPod(pod, true, kT0, kT0 + absl::Minutes(2), Timeouts()).phase,
            PodStatus::Phase::kRunning);
  PodStatus st = MapPod(pod, true, kT0, kT0 + absl::Minutes(3), Timeouts());
  EXPECT_EQ(st.phase, PodStatus::Phase::kLost);
  EXPECT_TRUE(st.alive);
  EXPECT_NE(st.reason.find("Insufficient nvidia.com/gpu"), std::string::npos) << st.reason;
}

TEST(PodStateTest, ContainerStartedOnlyOnceRunningOrTerminated) {
  EXPECT_FALSE(ContainerStarted(Pod("Pending")));
  EXPECT_FALSE(ContainerStarted(Pod("Pending", {{"waiting", {{"reason", "ContainerCreating"}}}})));
  EXPECT_TRUE(ContainerStarted(Pod("Running", {{"running", json::object()}})));
  EXPECT_TRUE(ContainerStarted(Pod("Failed", {{"terminated", {{"exitCode", 1}}}})));
}

TEST(PodStateTest, PendingReasonSaysWhyARankWaits) {
  using manager::kube::PendingReason;
  EXPECT_EQ(PendingReason(Pod("Pending")), "");
  EXPECT_EQ(PendingReason(Pod("Pending", {{"waiting", {{"reason", "ContainerCreating"}}}})), "");
  EXPECT_EQ(PendingReason(Pod(
                "Pending", {{"waiting", {{"reason", "ErrImagePull"}, {"message", "not found"}}}})),
            "ErrImagePull: not found");
  EXPECT_EQ(PendingReason(Pod("Pending", nullptr,
                              json::array({{{"type", "PodScheduled"},
                                            {"status", "False"},
                                            {"reason", "Unschedulable"},
                                            {"message", "0/1 nodes are available"}}}))),
            "Unschedulable: 0/1 nodes are available");
  EXPECT_EQ(PendingReason(Pod("Running", {{"running", json::object()}})), "");
}

TEST(PodStateTest, UidIdIsStablePositiveAndDistinct) {
  const int64_t a = UidId("6f1c2a9e-3b7d-4c1e-9a0f-1234567890ab");
  EXPECT_GT(a, 0);
  EXPECT_EQ(a, UidId("6f1c2a9e-3b7d-4c1e-9a0f-1234567890ab"));
  EXPECT_NE(a, UidId("7f1c2a9e-3b7d-4c1e-9a0f-1234567890ab"));
  EXPECT_GT(UidId("00000000-0000-0000-0000-000000000000"), 0);
  // It fits pods.pid (an SQL integer).
  EXPECT_LE(UidId("ffffffff-ffff-ffff-ffff-ffffffffffff"), int64_t{1} << 31);
  EXPECT_EQ(UidId(""), 0);
  EXPECT_EQ(UidId("abc"), 0);
}

}  // namespace
}  // namespace hai::testing
