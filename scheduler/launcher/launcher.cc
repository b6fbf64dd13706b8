#include "scheduler/launcher/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/proc.h"
#include "scheduler/launcher/manager_identity.h"

extern char** environ;

namespace hai {
namespace {

// How long a SIGKILLed manager may take to exit before it counts as still running.
constexpr absl::Duration kKillWait = absl::Seconds(2);

}  // namespace

absl::StatusOr<pid_t> Launcher::Launch(int64_t attempt_id) {
  std::error_code ec;
  std::filesystem::create_directories(options_.log_dir, ec);
  const std::string log = absl::StrCat(options_.log_dir, "/", attempt_id, ".log");
  std::vector<std::string> args = {options_.manager_binary, "--config", options_.config_path};
  if (!options_.override_path.empty()) {
    args.push_back("--config-override");
    args.push_back(options_.override_path);
  }
  args.push_back("--attempt");
  args.push_back(std::to_string(attempt_id));
  // The credential goes through a pipe: written whole before the spawn (far below the pipe's
  // capacity), so the child reads it and EOF without haid waiting on it. O_CLOEXEC: only this
  // child gets it, as fd 3.
  int cred_pipe[2] = {-1, -1};
  if (options_.credential) {
    if (::pipe2(cred_pipe, O_CLOEXEC) != 0) {
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    }
    const std::string cred = options_.credential(attempt_id);
    const bool written =
        ::write(cred_pipe[1], cred.data(), cred.size()) == static_cast<ssize_t>(cred.size());
    ::close(cred_pipe[1]);
    if (!written) {
      ::close(cred_pipe[0]);
      return absl::InternalError("cannot write the manager credential to its pipe");
    }
    args.push_back("--credential-fd");
    args.push_back("3");
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (cred_pipe[0] >= 0) posix_spawn_file_actions_adddup2(&actions, cred_pipe[0], 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own session: survives haid, and haid's terminal/process-group signals never reach it.
  // Default signal dispositions and an empty mask: haid blocks signals in its threads.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (cred_pipe[0] >= 0) ::close(cred_pipe[0]);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", options_.manager_binary, ": ", std::strerror(rc)));
  }
  children_[pid] = attempt_id;
  child_of_attempt_[attempt_id] = pid;
  return pid;
}

bool Launcher::HasLiveChild(int64_t attempt_id) const {
  return child_of_attempt_.count(attempt_id) > 0;
}

std::vector<ManagerExit> Launcher::Reap() {
  std::vector<ManagerExit> exits;
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    pid_t r = waitpid(it->first, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
      ++it;
      continue;
    }
    ManagerExit e;
    e.pid = it->first;
    e.attempt_id = it->second;
    e.exit_code = r < 0                 ? -1
                  : WIFEXITED(status)   ? WEXITSTATUS(status)
                  : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                        : -1;
    exits.push_back(e);
    child_of_attempt_.erase(it->second);
    it = children_.erase(it);
  }
  return exits;
}

ManagerMatch Launcher::Identify(const RecordedManager& m) const {
  return MatchManager(proc::Read(m.pid), m);
}

bool Launcher::Kill(const RecordedManager& m) {
  if (m.pid <= 0) return true;
  // A pidfd pins the process: once it is open and the process behind the pid is checked to be
  // the manager, the signal cannot reach another process that took over the number.
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, m.pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return true;  // already gone
    HAI_LOG(WARNING) << "manager " << m.pid << " of attempt " << m.attempt_id
                     << ": pidfd_open: " << std::strerror(errno) << "; not killed";
    return false;
  }
  bool gone = false;
  switch (Identify(m)) {
    case ManagerMatch::kNotIt:
      gone = true;  // the recorded manager has ended; the pid is someone else's now
      break;
    case ManagerMatch::kCannotTell:
      HAI_LOG(WARNING) << "manager " << m.pid << " of attempt " << m.attempt_id
                       << ": cannot tell whether it is still that manager; not killed";
      break;
    case ManagerMatch::kIsIt:
      if (::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) != 0) {
        gone = errno == ESRCH;
        if (!gone) {
          HAI_LOG(WARNING) << "kill manager " << m.pid << " of attempt " << m.attempt_id << ": "
                           << std::strerror(errno);
        }
        break;
      }
      // The pidfd turns readable when the process has exited.
      pollfd p{fd, POLLIN, 0};
      gone = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kKillWait))) > 0;
      if (!gone) {
        HAI_LOG(WARNING) << "manager " << m.pid << " of attempt " << m.attempt_id << " still there "
                         << absl::FormatDuration(kKillWait) << " after SIGKILL";
      }
      break;
  }
  ::close(fd);
  return gone;
}

}  // namespace hai
