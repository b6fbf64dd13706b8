// Local process-group runtime; see local_runtime.h.
#include "manager/runtime/local/local_runtime.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "manager/runtime/local/exit_file.h"
#include "manager/runtime/local/rank_supervisor.h"

namespace hai::manager {
namespace {

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const std::string& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// /proc/<pid>/cmdline with NULs as separators, "" when the process is gone.
std::string Cmdline(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

bool ProcessGroupAlive(pid_t pgid) {
  if (pgid <= 0) return false;
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

absl::StatusOr<int64_t> LocalPodRuntime::Start(const PodSpec& spec) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe
  // calls are allowed.
  const std::vector<std::string> args = SupervisorArgv(self_, spec);
  std::vector<char*> argv = CStrings(args);
  std::vector<char*> envp = CStrings(spec.env);
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // Own session and process group: the rank survives the manager and its signals, and
    // the group id equals this pid.
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(self_.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ranks_[spec.rank] = Rank{pid, spec.exit_path, true};
  return static_cast<int64_t>(pid);
}

absl::Status LocalPodRuntime::Adopt(int rank, int64_t id, const PodSpec& spec) {
  const pid_t pgid = static_cast<pid_t>(id);
  auto exit_code = ReadExitFile(spec.exit_path);
  if (!exit_code.ok()) return exit_code.status();
  // A recorded exit is enough: Poll reports it and whether stragglers remain.
  if (!exit_code->has_value()) {
    // The pid must still be our supervisor for this rank, not a reused pid.
    const std::string cmd = Cmdline(pgid);
    if (cmd.find(kRankSupervisorFlag) == std::string::npos ||
        cmd.find(spec.exit_path) == std::string::npos) {
      return absl::NotFoundError(
          absl::StrCat("rank ", rank, ": process ", pgid, " is not its supervisor"));
    }
  }
  ranks_[rank] = Rank{pgid, spec.exit_path, false};
  return absl::OkStatus();
}

absl::StatusOr<PodStatus> LocalPodRuntime::Poll(int rank) {
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return absl::NotFoundError(absl::StrCat("unknown rank ", rank));
  Rank& r = it->second;
  if (r.our_child) {
    int status = 0;
    if (::waitpid(r.pgid, &status, WNOHANG) == r.pgid) r.our_child = false;
  }
  PodStatus st;
  // Our unreaped child counts as alive by itself: right after fork, before the child's
  // setsid(), no process group with its id exists yet, and the rank would read as lost.
  st.alive = r.our_child || ProcessGroupAlive(r.pgid);
  auto code = ReadExitFile(r.exit_path);
  if (!code.ok()) return code.status();
  if (code->has_value()) {
    st.phase = PodStatus::Phase::kExited;
    st.exit_code = **code;
    return st;
  }
  // A group still alive without an exit file is running. Re-check the file after seeing the
  // group gone: the supervisor writes it just before exiting.
  if (st.alive) return st;
  code = ReadExitFile(r.exit_path);
  if (code.ok() && code->has_value()) {
    st.phase = PodStatus::Phase::kExited;
    st.exit_code = **code;
    return st;
  }
  st.phase = PodStatus::Phase::kLost;
  return st;
}

absl::Status LocalPodRuntime::Signal(int rank, PodSignal signal) {
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return absl::NotFoundError(absl::StrCat("unknown rank ", rank));
  const int sig = signal == PodSignal::kTerminate ? SIGTERM : SIGKILL;
  if (::kill(-it->second.pgid, sig) != 0 && errno != ESRCH) {
    return absl::InternalError(
        absl::StrCat("kill(-", it->second.pgid, "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace hai::manager
