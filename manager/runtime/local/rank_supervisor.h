// The rank supervisor: the small process the local runtime puts between the manager and a
// rank's user command (`hai-manager --rank-supervisor ...`). It exists so a rank outlives its
// manager: it leads the rank's process group (the runtime id recorded in pods.pid), pumps the
// command's stdout/stderr into the rank log line by line, and records the exit status in the
// exit file, so a relaunched manager can adopt the rank and still learn how it ended.
// The user command runs in a session and process group of its own (its pgid is written to
// TaskPgidPath(exit_file) before it runs anything), so a task that kills its own process group
// (`kill -9 0`) ends only itself: the supervisor records the exit with the reason. A SIGTERM
// or SIGINT to the supervisor's group is forwarded to the command's group (the supervisor
// keeps pumping until the command exits); the local runtime SIGKILLs both groups.
//
// Run as root (the manager is root), the supervisor stays root and the user command runs as
// the rank's user: after the mounts are set up, the child drops to --run-as UID:GID:GROUPS
// (setgroups, setgid, setuid, each checked), sets no_new_privs (capabilities are gone with
// the setuid from root), enters the working directory and execs with the environment read
// from --env-fd (the supervisor itself is exec'd with a fixed minimal environment, so nothing
// the submitter put in the rank's environment, e.g. LD_PRELOAD, reaches a root process). The
// rank log is owned by the user, mode 0600; workspace directories it creates too (0700).
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
  std::vector<std::string> argv;       // the user command
  // --run-as UID:GID[:G1,G2...]: whom the user command runs as (uid -1: as the supervisor).
  int64_t uid = -1;
  int64_t gid = -1;
  std::vector<int64_t> groups;
  // --env-fd N: the user command's environment ("K=V" strings, NUL-terminated) is read from
  // this descriptor; -1: the supervisor's own environment.
  int env_fd = -1;
};

// Where the supervisor records the process group id of the user command.
std::string TaskPgidPath(const std::string& exit_path);

// The environment the supervisor itself is exec'd with.
std::vector<std::string> SupervisorEnvironment();

// argv of the supervisor for `spec`:
//   binary --rank-supervisor --log-file ... [--mount ro|rw TYPE ROW HOST MOUNT]... -- argv...
// `run_as`: pass --run-as from spec.uid/gid/supplementary_gids. `env_fd` >= 0: --env-fd.
std::vector<std::string> SupervisorArgv(const std::string& binary, const PodSpec& spec,
                                        bool run_as = false, int env_fd = -1);

// Parses the arguments after `--rank-supervisor` (args[0] is the first one after the flag).
absl::StatusOr<SupervisorOptions> ParseSupervisorArgs(const std::vector<std::string>& args);

// Runs the supervisor in the calling process (already leader of its own session, started
// by LocalPodRuntime) and returns its process exit code. The user command's outcome is only
// in the exit file.
int RunRankSupervisor(const SupervisorOptions& options);

}  // namespace hai::manager
