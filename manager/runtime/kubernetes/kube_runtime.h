// KubernetesPodRuntime: runs each rank as a Pod (manifests.h) through the REST API
// (kube_client.h).
//   Start   creates the attempt's task-token Secret (the Pods read HAI_TASK_TOKEN from it),
//           files ConfigMap (spec.files), headless Service and, for a
//           serving rank, ClusterIP Service (each once), then the rank's Pod; a Pod that
//           already exists with this attempt's and rank's labels is adopted, never duplicated,
//           and so are the other objects (409: the existing one is read, a ConfigMap with
//           other content replaced).
//   Adopt   finds the Pod by name and checks that its uid still matches pods.pid; a serving
//           rank's Service is read (or re-created) for its cluster IP.
//   Poll    maps the Pod as last seen by the watch (pod_state.h); no API call.
//   Signal  deletes the Pod: kTerminate with the kill grace (the container gets SIGTERM, then
//           SIGKILL when it ends), kKill with a 1 s grace. A uid precondition makes sure a
//           same-named Pod of someone else is never deleted.
//   ServiceHost  the serving Service's cluster IP (retried each call until known).
//   Release deletes the Services, the ConfigMap, the token Secret and any Pod still there.
// Threads: one watch thread (list, then watch from the list's resourceVersion; re-list on
// 410 Gone or a broken stream) and one log thread per rank that follows the pod log API into
// the rank's log file (resuming after the last line already written). Both only update the
// state under `mu_`; the lifecycle thread reads it in Poll. The destructor stops and joins
// them and deletes nothing: a manager that exits leaves its Pods to the next one.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "manager/runtime/kubernetes/kube_client.h"
#include "manager/runtime/kubernetes/manifests.h"
#include "manager/runtime/kubernetes/pod_state.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::manager::kube {

struct KubeRuntimeOptions {
  ManifestOptions manifest;  // its termination_grace is also the kTerminate delete grace
  PodTimeouts timeouts;
  // Server-side timeout of one watch request; the watch resumes from its last resourceVersion.
  absl::Duration watch_timeout = absl::Minutes(5);
  // How long Signal waits for an ended rank's log to be fully copied before deleting its Pod.
  absl::Duration log_drain = absl::Seconds(5);
};

class KubernetesPodRuntime : public PodRuntime {
 public:
  KubernetesPodRuntime(std::unique_ptr<KubeClient> client, int64_t attempt_id,
                       KubeRuntimeOptions options);
  ~KubernetesPodRuntime() override;
  KubernetesPodRuntime(const KubernetesPodRuntime&) = delete;
  KubernetesPodRuntime& operator=(const KubernetesPodRuntime&) = delete;

  absl::StatusOr<int64_t> Start(const PodSpec& spec) override;
  absl::Status Adopt(int rank, int64_t id, const PodSpec& spec) override;
  absl::StatusOr<PodStatus> Poll(int rank) override;
  absl::Status Signal(int rank, PodSignal signal) override;
  std::string ServiceHost() override;
  absl::Status Release() override;

 private:
  struct Rank {
    std::string name;
    std::string uid;
    std::string log_path;
    nlohmann::json pod;        // last object seen
    bool present = false;      // the object exists
    absl::Time waiting_since;  // start/adoption time, for the pending timeouts
    absl::Time tracked_at;     // a list that started before this cannot say the pod is gone
    bool log_done = false;
    // The shortest grace a delete of this Pod was accepted with; the lifecycle repeats kKill
    // every poll until the rank is gone, and a delete that cannot shorten it is not resent.
    int64_t deleted_grace_s = -1;
    std::thread log_thread;
  };

  std::string PodsPath() const;
  std::string NamespacePath(const char* kind) const;
  absl::Status EnsureService(const PodSpec& spec);
  absl::Status EnsureFiles(const PodSpec& spec);
  // Creates the attempt's token Secret (or keeps/replaces the one a predecessor left).
  absl::Status EnsureTokenSecret(const PodSpec& spec);
  // Creates (or reads) a serving rank's ClusterIP Service and records its cluster IP.
  absl::Status EnsureJupyterService(const PodSpec& spec);
  // Records `pod` for `rank` and starts the log and watch threads as needed.
  void Track(int rank, const nlohmann::json& pod, const std::string& log_path);
  void WatchLoop();
  // One list; returns its resourceVersion.
  absl::StatusOr<std::string> ListOnce();
  void Apply(const nlohmann::json& pod, bool deleted) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogLoop(int rank);
  // Waits up to `d` unless stopping; returns false when stopping.
  bool Pause(absl::Duration d);
  // Ends the watch and log threads and joins them (destructor, Release); with drain_logs,
  // first gives each rank's log stream opt_.log_drain to reach its container's end.
  void StopThreads(bool drain_logs);
  absl::Status DeletePod(const std::string& name, const std::string& uid, int64_t grace_s);

  std::unique_ptr<KubeClient> client_;
  const int64_t attempt_id_;
  const KubeRuntimeOptions opt_;
  bool service_ready_ = false;  // lifecycle thread only, like the next three
  bool files_ready_ = false;
  bool token_ready_ = false;
  std::optional<PodSpec> serving_spec_;  // the serving rank's spec (container_port > 0)
  std::string service_host_;             // its Service's cluster IP once known

  absl::Mutex mu_;
  std::map<int, Rank> ranks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_flag_{false};  // read by stream callbacks without the lock
  std::thread watch_thread_;            // started on the first Track
};

}  // namespace hai::manager::kube
