// The rank supervisor: the small process the local runtime puts between the manager and a
// rank's user command (`hai-manager --rank-supervisor ...`). It exists so a rank outlives its
// manager: it leads the rank's process group (the runtime id recorded in pods.pid), pumps the
// command's stdout/stderr into the rank log line by line, and records the exit status in the
// exit file, so a relaunched manager can adopt the rank and still learn how it ended.
// It ignores SIGTERM (a SIGTERM to the group is meant for the user command; the supervisor
// keeps pumping until the command exits); SIGKILL to the group ends everything.
// With storage mounts it first enters a private mount namespace (mount_namespace.h); a rank
// whose mounts fail never runs its command and records exit code kMountFailedExitCode (125).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::manager {

inline constexpr char kRankSupervisorFlag[] = "--rank-supervisor";

struct SupervisorOptions {
  std::string log_path;
  std::string exit_path;
  std::string cwd;
  std::string required_file;
  std::vector<storage::Mount> mounts;  // --mount ro|rw TYPE ROW_ID HOST_PATH MOUNT_PATH
  std::vector<std::string> argv;  // the user command
};

// argv of the supervisor for `spec`:
//   binary --rank-supervisor --log-file ... [--mount ro|rw TYPE ROW HOST MOUNT]... -- argv...
std::vector<std::string> SupervisorArgv(const std::string& binary, const PodSpec& spec);

// Parses the arguments after `--rank-supervisor` (args[0] is the first one after the flag).
absl::StatusOr<SupervisorOptions> ParseSupervisorArgs(const std::vector<std::string>& args);

// Runs the supervisor in the calling process (already leader of its own session, started
// by LocalPodRuntime) and returns its process exit code. The user command's outcome is only
// in the exit file.
int RunRankSupervisor(const SupervisorOptions& options);

}  // namespace hai::manager
