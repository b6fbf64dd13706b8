// How a Pod object (as last seen through list/watch) maps to the lifecycle's PodStatus. Pure,
// so every phase and container state is table-tested:
//   container terminated                       -> exited with its exit code
//   phase Succeeded / Failed without that      -> exited 0 / lost (evicted, node lost)
//   InvalidImageName, ErrImageNeverPull        -> exited 127 at once (can never start)
//   ErrImagePull, ImagePullBackOff, Create*Error, RunContainerError for image_pull timeout
//                                              -> exited 127 (the task's image is broken)
//   PodScheduled=False/Unschedulable for the unschedulable timeout
//                                              -> lost (the node cannot take it: requeue)
//   deleted without a terminated container     -> lost
//   anything else (Pending, Running, Unknown)  -> running (started once the container is)
// `alive` is whether the Pod object still exists: a rank is gone only once its Pod is.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "manager/runtime/pod_runtime.h"
#include "nlohmann/json.hpp"

namespace hai::manager::kube {

struct PodTimeouts {
  absl::Duration image_pull = absl::Minutes(5);
  absl::Duration unschedulable = absl::Minutes(3);
};

// `pod`: the last object seen (null if never); `present`: it still exists; `waiting_since`:
// when the runtime first saw the rank (timeouts count from there, on the manager's clock, so
// API-server clock skew does not matter).
PodStatus MapPod(const nlohmann::json& pod, bool present, absl::Time waiting_since, absl::Time now,
                 const PodTimeouts& timeouts);

// Whether the task container has started (running or terminated), i.e. has a log to read.
bool ContainerStarted(const nlohmann::json& pod);
// Why a Pod that has not started is still waiting, when the API says ("Unschedulable: 0/3
// nodes are available: ...", "ImagePullBackOff: Back-off pulling image ..."); "" otherwise
// (including the normal ContainerCreating).
std::string PendingReason(const nlohmann::json& pod);

// Whether the task container has terminated (its log is complete).
bool ContainerTerminated(const nlohmann::json& pod);

// A stable positive id from a Pod's metadata.uid, recorded in pods.pid (an SQL integer): the
// first 28 bits of the uid, plus one. The Pod's name already names the attempt and rank, so
// the id only has to tell two incarnations of that name apart. 0 if the uid is malformed.
int64_t UidId(const std::string& uid);

}  // namespace hai::manager::kube
