// Rank supervisor: spawn, pump output into whole timestamped lines, record the exit status.
// See rank_supervisor.h for why it exists.
#include "manager/runtime/local/rank_supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "manager/log_line.h"
#include "manager/runtime/local/exit_file.h"
#include "manager/runtime/local/mount_namespace.h"
#include "manager/runtime/local/unique_fd.h"
#include "manager/storage/path_template.h"

namespace hai::manager {
namespace {

// How long to keep reading after the user command exited while something it started still
// holds the pipes open; the manager terminates such stragglers afterwards.
constexpr absl::Duration kDrainAfterExit = absl::Seconds(1);
constexpr int kPollMs = 100;

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // disk full or similar: losing log lines must not stop the rank
    off += static_cast<size_t>(n);
  }
}

// Closes every descriptor above stderr that the manager may have leaked into us (its
// Postgres and Redis sockets), so the rank holds nothing of the manager's.
void CloseInheritedFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  std::vector<int> fds;
  while (dirent* e = ::readdir(dir)) {
    int fd = std::atoi(e->d_name);
    if (fd > 2 && fd != ::dirfd(dir)) fds.push_back(fd);
  }
  ::closedir(dir);
  for (int fd : fds) ::close(fd);
}

int StatusToCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

class RankLog {
 public:
  explicit RankLog(int fd) : fd_(fd) {}
  void Line(LogStream stream, const std::string& text) {
    WriteAll(fd_, FormatLogLine(absl::Now(), stream, text));
  }

 private:
  int fd_;
};

struct Stream {
  UniqueFd fd;
  LogStream kind;
  LineSplitter splitter;
  bool eof = false;
};

// Reads what is available on `s` and logs the completed lines.
void Pump(Stream& s, RankLog& log) {
  char buf[16384];
  while (true) {
    ssize_t n = ::read(s.fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno != EAGAIN) s.eof = true;
      return;
    }
    if (n == 0) {
      s.eof = true;
      for (const std::string& line : s.splitter.Flush()) log.Line(s.kind, line);
      return;
    }
    for (const std::string& line : s.splitter.Feed(buf, static_cast<size_t>(n))) {
      log.Line(s.kind, line);
    }
  }
}

}  // namespace

std::vector<std::string> SupervisorArgv(const std::string& binary, const PodSpec& spec) {
  std::vector<std::string> argv = {binary,           kRankSupervisorFlag, "--log-file",
                                   spec.log_path,    "--exit-file",       spec.exit_path,
                                   "--cwd",          spec.cwd,            "--required-file",
                                   spec.required_file};
  for (const storage::Mount& m : spec.mounts) {
    argv.insert(argv.end(),
                {"--mount", m.read_only ? "ro" : "rw", m.type, absl::StrCat(m.row_id),
                 m.host_path, m.mount_path});
  }
  argv.push_back("--");
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  return argv;
}

absl::StatusOr<SupervisorOptions> ParseSupervisorArgs(const std::vector<std::string>& args) {
  SupervisorOptions o;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--mount") {
      if (i + 5 >= args.size()) return absl::InvalidArgumentError("--mount needs 5 values");
      storage::Mount m;
      const std::string& mode = args[i + 1];
      if (mode != "ro" && mode != "rw") {
        return absl::InvalidArgumentError(absl::StrCat("--mount mode '", mode, "' is not ro|rw"));
      }
      m.read_only = mode == "ro";
      m.type = args[i + 2];
      if (!absl::SimpleAtoi(args[i + 3], &m.row_id)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--mount row id '", args[i + 3], "' is not a number"));
      }
      m.host_path = args[i + 4];
      m.mount_path = args[i + 5];
      if (m.host_path.empty() || m.host_path[0] != '/' || m.mount_path.size() < 2 ||
          m.mount_path[0] != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("--mount paths must be absolute: ", m.host_path, " ", m.mount_path));
      }
      o.mounts.push_back(std::move(m));
      i += 5;
      continue;
    }
    if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
    const std::string& v = args[++i];
    if (a == "--log-file") o.log_path = v;
    else if (a == "--exit-file") o.exit_path = v;
    else if (a == "--cwd") o.cwd = v;
    else if (a == "--required-file") o.required_file = v;
    else return absl::InvalidArgumentError(absl::StrCat("unknown supervisor flag ", a));
  }
  o.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (o.log_path.empty() || o.exit_path.empty() || o.argv.empty()) {
    return absl::InvalidArgumentError("supervisor needs --log-file, --exit-file and a command");
  }
  return o;
}

int RunRankSupervisor(const SupervisorOptions& o) {
  // TERM/INT/HUP are for the user command; we keep pumping until it is gone.
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  CloseInheritedFds();

  UniqueFd log_fd(::open(o.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd.valid()) {
    (void)WriteExitFile(o.exit_path, 127);
    return 1;
  }
  RankLog log(log_fd.get());
  auto fail = [&](const std::string& why, int code = 127) {
    log.Line(LogStream::kErr, absl::StrCat("hai: ", why));
    (void)WriteExitFile(o.exit_path, code);
    return 0;
  };

  // A mount over the exit file's directory would hide the rank's exit status from the
  // manager (the rank would read as lost), so it is refused like any failed mount.
  const std::string exit_dir = std::filesystem::path(o.exit_path).parent_path().string();
  for (const storage::Mount& m : o.mounts) {
    if (storage::PathIsWithin(exit_dir, m.mount_path)) {
      return fail(absl::StrCat("mount ", m.host_path, " -> ", m.mount_path, ", storage row ",
                               m.row_id, ": would cover hai's run directory ", exit_dir),
                  kMountFailedExitCode);
    }
  }
  // Before the working directory and the entrypoint: both may live inside a mount.
  if (absl::Status s = EnterMountNamespace(o.mounts); !s.ok()) {
    return fail(std::string(s.message()), kMountFailedExitCode);
  }

  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) {
    return fail(absl::StrCat("cannot enter working directory ", o.cwd, ": ",
                             std::strerror(errno)));
  }
  if (!o.required_file.empty() && ::access(o.required_file.c_str(), F_OK) != 0) {
    return fail(absl::StrCat("entrypoint ", o.required_file, " does not exist (working directory ",
                             o.cwd, ")"));
  }
  // Orphans of the user command (daemonised helpers) are re-parented to us, not to init, so
  // we reap them and they stay inside this rank's process group and lifetime.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  int out[2], err[2], st[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return fail("pipe failed");
  Stream sout{UniqueFd(out[0]), LogStream::kOut, LineSplitter(), false};
  UniqueFd out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return fail("pipe failed");
  Stream serr{UniqueFd(err[0]), LogStream::kErr, LineSplitter(), false};
  UniqueFd err_w(err[1]);
  if (::pipe2(st, O_CLOEXEC) != 0) return fail("pipe failed");
  UniqueFd st_r(st[0]), st_w(st[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  std::vector<char*> cargv;
  for (const std::string& a : o.argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return fail(absl::StrCat("fork failed: ", std::strerror(errno)));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGHUP, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (devnull.valid()) ::dup2(devnull.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    ::execvp(cargv[0], cargv.data());
    const int e = errno;
    (void)!::write(st_w.get(), &e, sizeof(e));
    ::_exit(127);
  }
  out_w.Reset();
  err_w.Reset();
  st_w.Reset();
  int exec_errno = 0;
  if (::read(st_r.get(), &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
    log.Line(LogStream::kErr, absl::StrCat("hai: cannot execute ", o.argv[0], ": ",
                                           std::strerror(exec_errno)));
  }
  st_r.Reset();
  ::fcntl(sout.fd.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(serr.fd.get(), F_SETFL, O_NONBLOCK);

  std::optional<int> code;
  std::optional<absl::Time> drain_until;
  while (true) {
    pollfd fds[2];
    nfds_t n = 0;
    Stream* streams[2];
    for (Stream* s : {&sout, &serr}) {
      if (s->eof) continue;
      fds[n] = {s->fd.get(), POLLIN, 0};
      streams[n++] = s;
    }
    if (n > 0) {
      const int r = ::poll(fds, n, kPollMs);
      if (r > 0) {
        for (nfds_t i = 0; i < n; ++i) {
          if (fds[i].revents != 0) Pump(*streams[i], log);
        }
      }
    } else {
      ::poll(nullptr, 0, kPollMs);  // pipes closed; wait for the exit status
    }
    int status = 0;
    pid_t reaped;
    while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (reaped == pid) code = StatusToCode(status);
    }
    if (!code.has_value()) continue;
    if (sout.eof && serr.eof) break;
    if (!drain_until.has_value()) drain_until = absl::Now() + kDrainAfterExit;
    if (absl::Now() >= *drain_until) break;
  }
  for (Stream* s : {&sout, &serr}) {
    if (!s->eof) Pump(*s, log);
    for (const std::string& line : s->splitter.Flush()) log.Line(s->kind, line);
  }
  if (!WriteExitFile(o.exit_path, *code).ok()) return 1;
  return 0;
}

}  // namespace hai::manager
