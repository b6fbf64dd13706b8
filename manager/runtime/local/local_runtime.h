// LocalPodRuntime: runs each rank as its own session/process group on this host, led by a
// rank supervisor (`hai-manager --rank-supervisor`, see rank_supervisor.h). The runtime id is
// the supervisor's pid, which is also the group id, so `kill(-id, sig)` reaches every process
// of the rank and a later manager can adopt the rank from pods.pid alone. How a rank ended is
// read from its exit file, never from waitpid, because an adopted supervisor is not our child.
// Start is idempotent per rank: the rank's process creates spec.pid_path exclusively before
// it runs anything, so a rank is started at most once per attempt whenever a manager dies;
// a second Start finds the file and adopts the rank it names.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "manager/runtime/pod_runtime.h"

namespace hai::manager {

class LocalPodRuntime : public PodRuntime {
 public:
  // `self_binary`: the hai-manager executable, re-executed as the rank supervisor.
  explicit LocalPodRuntime(std::string self_binary) : self_(std::move(self_binary)) {}

  absl::StatusOr<int64_t> Start(const PodSpec& spec) override;
  absl::Status Adopt(int rank, int64_t id, const PodSpec& spec) override;
  absl::StatusOr<PodStatus> Poll(int rank) override;
  absl::Status Signal(int rank, PodSignal signal) override;

 private:
  struct Rank {
    pid_t pgid = 0;
    std::string exit_path;
    bool our_child = false;  // started by this manager: we must reap the supervisor
  };
  absl::StatusOr<int64_t> AdoptStarted(const PodSpec& spec, pid_t pid);

  std::string self_;
  std::map<int, Rank> ranks_;
};

// Whether any process of group `pgid` exists. An unreaped zombie still counts as a member,
// which is why Poll reaps its own supervisors before asking.
bool ProcessGroupAlive(pid_t pgid);

}  // namespace hai::manager
