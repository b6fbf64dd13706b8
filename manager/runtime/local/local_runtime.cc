// Local process-group runtime; see local_runtime.h.
#include "manager/runtime/local/local_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "manager/runtime/local/exit_file.h"
#include "manager/runtime/local/rank_supervisor.h"
#include "manager/runtime/local/unique_fd.h"

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

// The id in a rank's pid file; nullopt when there is none.
std::optional<pid_t> ReadPidFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  char buf[32];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  int pid = 0;
  if (n <= 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &pid) ||
      pid <= 0) {
    return std::nullopt;
  }
  return static_cast<pid_t>(pid);
}

// Decimal digits of `v` > 0 into `out` (at least 20 chars); returns their count. Async-signal-
// safe, for the child between fork and exec.
size_t FormatPid(long v, char* out) {
  char rev[24];
  size_t n = 0;
  do {
    rev[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < sizeof(rev));
  for (size_t i = 0; i < n; ++i) out[i] = rev[n - 1 - i];
  return n;
}

// How long Adopt waits for a rank process that created its pid file to become the supervisor
// (it is between its link() and its execve()).
constexpr absl::Duration kExecWait = absl::Seconds(2);

// Whether ranks run as their users: only a root manager can switch uid. Said once per process
// when it cannot.
bool RunAsUsers() {
  static const bool root = [] {
    const bool r = ::geteuid() == 0;
    if (!r) {
      HAI_LOG(WARNING) << "the manager is not root (uid " << ::geteuid() << "): ranks run as uid "
                       << ::geteuid() << ", not as their users (docs/security.md)";
    }
    return r;
  }();
  return root;
}

// The environment of the user command in an anonymous file, NUL-terminated strings; passed
// to the supervisor as a descriptor so none of it is the supervisor's own environment.
absl::StatusOr<UniqueFd> EnvironmentFile(const std::vector<std::string>& env) {
  UniqueFd fd(::memfd_create("hai-rank-env", MFD_CLOEXEC));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("memfd_create: ", std::strerror(errno)));
  std::string data;
  for (const std::string& kv : env) {
    data.append(kv);
    data.push_back('\0');
  }
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat("write env: ", std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
    return absl::InternalError(absl::StrCat("lseek: ", std::strerror(errno)));
  }
  return fd;
}

bool IsSupervisorOf(pid_t pid, const std::string& exit_path) {
  const std::string cmd = Cmdline(pid);
  return cmd.find(kRankSupervisorFlag) != std::string::npos &&
         cmd.find(exit_path) != std::string::npos;
}

}  // namespace

bool ProcessGroupAlive(pid_t pgid) {
  if (pgid <= 0) return false;
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

absl::StatusOr<int64_t> LocalPodRuntime::AdoptStarted(const PodSpec& spec, pid_t pid) {
  // Started by this runtime already: still ours to reap.
  if (auto it = ranks_.find(spec.rank); it != ranks_.end() && it->second.pgid == pid) {
    return static_cast<int64_t>(pid);
  }
  if (absl::Status s = Adopt(spec.rank, pid, spec); !s.ok()) return s;
  return static_cast<int64_t>(pid);
}

absl::StatusOr<int64_t> LocalPodRuntime::Start(const PodSpec& spec) {
  // Started already (by a manager that died before recording it): adopted, never twice.
  if (!spec.pid_path.empty()) {
    if (std::optional<pid_t> existing = ReadPidFile(spec.pid_path)) {
      return AdoptStarted(spec, *existing);
    }
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe
  // calls are allowed.
  // As root, the user command runs as the rank's user; never as root. uid -1: the caller
  // asks for no identity (tests of the runtime itself); the rank runs as the manager.
  const bool run_as = spec.uid != -1 && RunAsUsers();
  if (run_as && (spec.uid <= 0 || spec.gid <= 0)) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank ", spec.rank, ": refusing to run as uid ", spec.uid, " gid ", spec.gid,
                     " (the user needs users.uid/gid > 0, docs/security.md)"));
  }
  auto env_file = EnvironmentFile(spec.env);
  if (!env_file.ok()) return env_file.status();
  const int env_fd = env_file->get();
  const std::vector<std::string> args = SupervisorArgv(self_, spec, run_as, env_fd);
  std::vector<char*> argv = CStrings(args);
  const std::vector<std::string> supervisor_env = SupervisorEnvironment();
  std::vector<char*> envp = CStrings(supervisor_env);
  // The child creates the pid file itself before it runs anything: written under a name of
  // its own, then link()ed to pid_path, which fails when the file exists. Of two Starts of
  // one rank (a manager, and the successor of one that died right after its fork) exactly one
  // child goes on to exec the supervisor; the other reports EEXIST and exits.
  const std::string tmp_prefix = spec.pid_path + ".new-";
  std::vector<char> tmp(tmp_prefix.size() + 32, '\0');
  std::memcpy(tmp.data(), tmp_prefix.data(), tmp_prefix.size());
  const char* pid_path = spec.pid_path.empty() ? nullptr : spec.pid_path.c_str();
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  UniqueFd status_r(status_pipe[0]), status_w(status_pipe[1]);
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
    auto fail = [&](int e) {
      (void)!::write(status_w.get(), &e, sizeof(e));
      ::_exit(127);
    };
    if (pid_path != nullptr) {
      char digits[32];
      const size_t n = FormatPid(static_cast<long>(::getpid()), digits);
      std::memcpy(tmp.data() + tmp_prefix.size(), digits, n);
      tmp[tmp_prefix.size() + n] = '\0';
      digits[n] = '\n';
      const int fd = ::open(tmp.data(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) fail(errno);
      const bool written = ::write(fd, digits, n + 1) == static_cast<ssize_t>(n + 1);
      ::close(fd);
      const int linked = written ? ::link(tmp.data(), pid_path) : -1;
      const int e = written ? errno : EIO;
      ::unlink(tmp.data());
      if (linked != 0) fail(e);
    }
    // The environment file is the one descriptor the supervisor inherits on purpose.
    if (::fcntl(env_fd, F_SETFD, 0) != 0) fail(errno);
    ::execve(self_.c_str(), argv.data(), envp.data());
    fail(errno);
  }
  status_w.Reset();
  // EOF: the child exec'd the supervisor. An errno: it exited without running anything.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(status_r.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (child_errno == EEXIST && !spec.pid_path.empty()) {
      // Another Start of this rank won the pid file: that rank is the one.
      std::optional<pid_t> existing = ReadPidFile(spec.pid_path);
      if (!existing.has_value()) {
        return absl::InternalError(
            absl::StrCat("rank ", spec.rank, ": unreadable pid file ", spec.pid_path));
      }
      return AdoptStarted(spec, *existing);
    }
    return absl::InternalError(absl::StrCat("rank ", spec.rank, ": cannot start ", self_, ": ",
                                            std::strerror(child_errno)));
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
    // The pid must still be our supervisor for this rank, not a reused pid. A rank process
    // that has just created its pid file may not have exec'd the supervisor yet: while it
    // exists, it gets a moment to.
    const absl::Time deadline = absl::Now() + kExecWait;
    while (!IsSupervisorOf(pgid, spec.exit_path)) {
      if (absl::Now() >= deadline || (::kill(pgid, 0) != 0 && errno == ESRCH)) {
        auto recorded = ReadExitFile(spec.exit_path);
        if (recorded.ok() && recorded->has_value()) break;  // it ran and ended meanwhile
        return absl::NotFoundError(
            absl::StrCat("rank ", rank, ": process ", pgid, " is not its supervisor"));
      }
      absl::SleepFor(absl::Milliseconds(10));
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
  // The user command's own group counts too (stragglers after the supervisor exited).
  const std::optional<pid_t> task_group = ReadPidFile(TaskPgidPath(r.exit_path));
  const bool supervisor_alive = r.our_child || ProcessGroupAlive(r.pgid);
  st.alive = supervisor_alive || (task_group.has_value() && ProcessGroupAlive(*task_group));
  auto code = ReadExitFile(r.exit_path);
  if (!code.ok()) return code.status();
  if (code->has_value()) {
    st.phase = PodStatus::Phase::kExited;
    st.exit_code = **code;
    st.reason = ReadExitReason(r.exit_path);
    st.self_inflicted = ReadExitSelfInflicted(r.exit_path);
    return st;
  }
  // A supervisor still alive without an exit file is running. Re-check the file after seeing
  // it gone: the supervisor writes it just before exiting. A supervisor gone without one was
  // killed (not by its task, which cannot signal it): the rank is lost, even while its
  // orphaned command lives on (alive: the lifecycle terminates it).
  if (supervisor_alive) return st;
  code = ReadExitFile(r.exit_path);
  if (code.ok() && code->has_value()) {
    st.phase = PodStatus::Phase::kExited;
    st.exit_code = **code;
    st.reason = ReadExitReason(r.exit_path);
    st.self_inflicted = ReadExitSelfInflicted(r.exit_path);
    return st;
  }
  st.phase = PodStatus::Phase::kLost;
  return st;
}

absl::Status LocalPodRuntime::Signal(int rank, PodSignal signal) {
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return absl::NotFoundError(absl::StrCat("unknown rank ", rank));
  const int sig = signal == PodSignal::kTerminate ? SIGTERM : SIGKILL;
  // The supervisor forwards a SIGTERM to the user command's group. A SIGKILL ends the
  // supervisor before it could, so the command's group (its own session, see
  // rank_supervisor.h) gets it directly, after the supervisor's: a supervisor that saw its
  // command killed first would record it as killed by a signal hai did not send.
  bool supervisor_gone = false;
  if (::kill(-it->second.pgid, sig) != 0) {
    if (errno != ESRCH) {
      return absl::InternalError(
          absl::StrCat("kill(-", it->second.pgid, "): ", std::strerror(errno)));
    }
    supervisor_gone = true;
  }
  // With the supervisor gone (its command ended, stragglers remain) nobody forwards a SIGTERM.
  if (sig == SIGKILL || supervisor_gone) {
    if (std::optional<pid_t> task = ReadPidFile(TaskPgidPath(it->second.exit_path));
        task.has_value() && ::kill(-*task, sig) != 0 && errno != ESRCH) {
      return absl::InternalError(absl::StrCat("kill(-", *task, "): ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace hai::manager
