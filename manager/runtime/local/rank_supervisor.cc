// Rank supervisor: spawn, pump output into whole timestamped lines, record the exit status.
// See rank_supervisor.h for why it exists.
#include "manager/runtime/local/rank_supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

// A SIGTERM/SIGINT for the rank, to be forwarded to the user command's process group.
volatile sig_atomic_t g_forward_signal = 0;
void RememberSignal(int sig) { g_forward_signal = sig; }

// What went wrong in the child before the user command ran (sent over the status pipe).
enum ChildStage : int {
  kStageExec = 0,
  kStageGroups = 1,
  kStageGid = 2,
  kStageUid = 3,
  kStageStillPrivileged = 4,
  kStageNoNewPrivs = 5,
  kStageCwd = 6,
  kStageEntrypoint = 7,
};
struct ChildFailure {
  int stage = 0;
  int err = 0;
};

// The environment the user command gets: NUL-terminated "K=V" strings read from `fd`.
std::vector<std::string> ReadEnvironment(int fd) {
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  std::vector<std::string> env;
  for (absl::string_view kv : absl::StrSplit(data, '\0', absl::SkipEmpty())) {
    env.emplace_back(kv);
  }
  return env;
}

// HOME, USER and LOGNAME of the account `uid` has on this host (NSS: passwd, LDAP), in
// place of the ones inherited from haid's environment (root's). Without an account they stay.
void UseAccountOf(uid_t uid, std::vector<std::string>* env) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return;
  const std::map<std::string, std::string> account = {
      {"HOME", pw.pw_dir}, {"USER", pw.pw_name}, {"LOGNAME", pw.pw_name}};
  std::vector<std::string> out;
  for (const std::string& kv : *env) {
    if (account.count(kv.substr(0, kv.find('='))) == 0) out.push_back(kv);
  }
  for (const auto& [k, v] : account) out.push_back(absl::StrCat(k, "=", v));
  *env = std::move(out);
}

std::string SignalName(int sig) {
  const char* name = ::strsignal(sig);
  return absl::StrCat("signal ", sig, name != nullptr ? absl::StrCat(" (", name, ")") : "");
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

std::string TaskPgidPath(const std::string& exit_path) { return exit_path + ".pgid"; }

std::vector<std::string> SupervisorEnvironment() {
  return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
}

std::vector<std::string> SupervisorArgv(const std::string& binary, const PodSpec& spec, bool run_as,
                                        int env_fd) {
  std::vector<std::string> argv = {binary,
                                   kRankSupervisorFlag,
                                   "--log-file",
                                   spec.log_path,
                                   "--exit-file",
                                   spec.exit_path,
                                   "--cwd",
                                   spec.cwd,
                                   "--required-file",
                                   spec.required_file};
  if (run_as) {
    std::string who = absl::StrCat(spec.uid, ":", spec.gid);
    if (!spec.supplementary_gids.empty()) {
      absl::StrAppend(&who, ":", absl::StrJoin(spec.supplementary_gids, ","));
    }
    argv.insert(argv.end(), {"--run-as", who});
  }
  if (env_fd >= 0) argv.insert(argv.end(), {"--env-fd", absl::StrCat(env_fd)});
  for (const storage::Mount& m : spec.mounts) {
    argv.insert(argv.end(), {"--mount", m.read_only ? "ro" : "rw", m.type, absl::StrCat(m.row_id),
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
    if (a == "--log-file")
      o.log_path = v;
    else if (a == "--exit-file")
      o.exit_path = v;
    else if (a == "--cwd")
      o.cwd = v;
    else if (a == "--required-file")
      o.required_file = v;
    else if (a == "--env-fd") {
      if (!absl::SimpleAtoi(v, &o.env_fd) || o.env_fd < 0) {
        return absl::InvalidArgumentError(absl::StrCat("--env-fd '", v, "' is not a descriptor"));
      }
    } else if (a == "--run-as") {
      std::vector<std::string> parts = absl::StrSplit(v, ':');
      if (parts.size() < 2 || parts.size() > 3 || !absl::SimpleAtoi(parts[0], &o.uid) ||
          !absl::SimpleAtoi(parts[1], &o.gid) || o.uid < 0 || o.gid < 0) {
        return absl::InvalidArgumentError(absl::StrCat("--run-as '", v, "' is not UID:GID[:G,..]"));
      }
      if (parts.size() == 3) {
        for (absl::string_view g : absl::StrSplit(parts[2], ',', absl::SkipEmpty())) {
          int64_t id = 0;
          if (!absl::SimpleAtoi(g, &id) || id < 0) {
            return absl::InvalidArgumentError(absl::StrCat("--run-as group '", g, "'"));
          }
          o.groups.push_back(id);
        }
      }
    } else
      return absl::InvalidArgumentError(absl::StrCat("unknown supervisor flag ", a));
  }
  o.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (o.log_path.empty() || o.exit_path.empty() || o.argv.empty()) {
    return absl::InvalidArgumentError("supervisor needs --log-file, --exit-file and a command");
  }
  return o;
}

int RunRankSupervisor(const SupervisorOptions& o) {
  // TERM/INT are for the user command: remembered and forwarded to its process group; we keep
  // pumping until it is gone.
  struct sigaction forward {};
  forward.sa_handler = RememberSignal;
  sigemptyset(&forward.sa_mask);
  ::sigaction(SIGTERM, &forward, nullptr);
  ::sigaction(SIGINT, &forward, nullptr);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  // The user command's environment, before every inherited descriptor is closed.
  std::vector<std::string> env_strings;
  const bool own_env = o.env_fd >= 0;
  if (own_env) env_strings = ReadEnvironment(o.env_fd);
  CloseInheritedFds();
  const bool drop = o.uid >= 0;
  if (drop && own_env) UseAccountOf(static_cast<uid_t>(o.uid), &env_strings);

  // The log is the user's (0600), opened by us without following a link: a rank's log
  // directory is shared by the attempt's ranks.
  UniqueFd log_fd(
      ::open(o.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!log_fd.valid()) {
    (void)WriteExitFile(o.exit_path, 127);
    return 1;
  }
  if (drop) {
    (void)!::fchown(log_fd.get(), static_cast<uid_t>(o.uid), static_cast<gid_t>(o.gid));
  }
  ::fchmod(log_fd.get(), 0600);
  RankLog log(log_fd.get());
  auto fail = [&](const std::string& why, int code = 127) {
    log.Line(LogStream::kErr, absl::StrCat("hai: ", why));
    (void)WriteExitFile(o.exit_path, code, why);
    return 0;
  };
  if (drop && (o.uid == 0 || o.gid == 0)) {
    return fail(absl::StrCat("refusing to run the task as uid ", o.uid, " gid ", o.gid,
                             ": its user has no unprivileged uid/gid (users.uid, users.gid)"));
  }

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
  if (absl::Status s = EnterMountNamespace(o.mounts, o.uid, o.gid); !s.ok()) {
    return fail(std::string(s.message()), kMountFailedExitCode);
  }

  // Orphans of the user command (daemonised helpers) are re-parented to us, not to init, so
  // we reap them and they stay inside this rank's lifetime.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  int out[2], err[2], st[2], go[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return fail("pipe failed");
  Stream sout{UniqueFd(out[0]), LogStream::kOut, LineSplitter(), false};
  UniqueFd out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return fail("pipe failed");
  Stream serr{UniqueFd(err[0]), LogStream::kErr, LineSplitter(), false};
  UniqueFd err_w(err[1]);
  if (::pipe2(st, O_CLOEXEC) != 0) return fail("pipe failed");
  UniqueFd st_r(st[0]), st_w(st[1]);
  if (::pipe2(go, O_CLOEXEC) != 0) return fail("pipe failed");
  UniqueFd go_r(go[0]), go_w(go[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  // Everything the child needs, prepared before fork.
  std::vector<char*> cargv;
  for (const std::string& a : o.argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const std::string& kv : env_strings) cenv.push_back(const_cast<char*>(kv.c_str()));
  cenv.push_back(nullptr);
  std::vector<gid_t> groups;
  for (int64_t g : o.groups) groups.push_back(static_cast<gid_t>(g));
  const uid_t uid = static_cast<uid_t>(o.uid);
  const gid_t gid = static_cast<gid_t>(o.gid);
  const char* cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  const char* required = o.required_file.empty() ? nullptr : o.required_file.c_str();

  const pid_t pid = ::fork();
  if (pid < 0) return fail(absl::StrCat("fork failed: ", std::strerror(errno)));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    auto child_fail = [&](int stage) {
      ChildFailure f{stage, errno};
      (void)!::write(st_w.get(), &f, sizeof(f));
      ::_exit(127);
    };
    // A session and process group of its own: whatever the task signals as "its group" is
    // not the supervisor's.
    ::setsid();
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGHUP, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Nothing runs before the supervisor has recorded our group: a byte means go, EOF that
    // the supervisor is gone.
    char byte = 0;
    ssize_t got;
    do {
      got = ::read(go_r.get(), &byte, 1);
    } while (got < 0 && errno == EINTR);
    if (got != 1) ::_exit(127);
    if (drop) {
      if (::setgroups(groups.size(), groups.data()) != 0) child_fail(kStageGroups);
      if (::setgid(gid) != 0) child_fail(kStageGid);
      if (::setuid(uid) != 0) child_fail(kStageUid);
      // Checked, not assumed: no way back to root.
      if (::getuid() != uid || ::geteuid() != uid || ::getgid() != gid || ::getegid() != gid ||
          ::setuid(0) == 0) {
        errno = EPERM;
        child_fail(kStageStillPrivileged);
      }
    }
    if (drop && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(kStageNoNewPrivs);
    // As the user: a directory or entrypoint the user cannot reach fails here.
    if (cwd != nullptr && ::chdir(cwd) != 0) child_fail(kStageCwd);
    if (required != nullptr && ::access(required, F_OK) != 0) child_fail(kStageEntrypoint);
    if (devnull.valid()) ::dup2(devnull.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    if (own_env) environ = cenv.data();  // execvp searches the user's PATH
    ::execvp(cargv[0], cargv.data());
    child_fail(kStageExec);
  }
  out_w.Reset();
  err_w.Reset();
  st_w.Reset();
  go_r.Reset();
  // The command's group is on record before it runs: the runtime signals it from there.
  {
    const std::string pgid_path = TaskPgidPath(o.exit_path);
    const std::string text = absl::StrCat(pid, "\n");
    UniqueFd f(
        ::open(pgid_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!f.valid() ||
        ::write(f.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      ::kill(pid, SIGKILL);
      return fail(absl::StrCat("cannot record the task's process group in ", pgid_path, ": ",
                               std::strerror(errno)));
    }
  }
  (void)!::write(go_w.get(), "g", 1);
  go_w.Reset();
  ChildFailure child{};
  std::string start_failure;
  if (::read(st_r.get(), &child, sizeof(child)) == sizeof(child)) {
    const char* e = std::strerror(child.err);
    switch (child.stage) {
      case kStageCwd:
        start_failure = absl::StrCat("cannot enter working directory ", o.cwd, ": ", e);
        break;
      case kStageEntrypoint:
        start_failure = absl::StrCat("entrypoint ", o.required_file,
                                     " does not exist (working directory ", o.cwd, "): ", e);
        break;
      case kStageExec: start_failure = absl::StrCat("cannot execute ", o.argv[0], ": ", e); break;
      default:
        start_failure = absl::StrCat("cannot run the task as uid ", o.uid, " gid ", o.gid,
                                     " (step ", child.stage, "): ", e);
    }
    log.Line(LogStream::kErr, absl::StrCat("hai: ", start_failure));
  }
  st_r.Reset();
  ::fcntl(sout.fd.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(serr.fd.get(), F_SETFL, O_NONBLOCK);

  std::optional<int> code;
  int status_of_command = 0;
  bool forwarded = false;
  std::optional<absl::Time> drain_until;
  while (true) {
    if (const int sig = g_forward_signal; sig != 0) {
      g_forward_signal = 0;
      forwarded = true;
      ::kill(-pid, sig);
    }
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
      if (reaped == pid) {
        code = StatusToCode(status);
        status_of_command = status;
      }
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
  std::string reason = start_failure;
  bool self_inflicted = false;
  if (reason.empty() && WIFSIGNALED(status_of_command) && !forwarded &&
      WTERMSIG(status_of_command) == SIGKILL) {
    self_inflicted = true;
  }
  if (reason.empty() && WIFSIGNALED(status_of_command) && !forwarded) {
    // Not a signal hai sent (the runtime's SIGKILL ends the supervisor too): the task's own
    // doing, e.g. `kill -9 0`, or the kernel's (out of memory).
    const int sig = WTERMSIG(status_of_command);
    reason = absl::StrCat("the task was killed by ", SignalName(sig),
                          " that hai did not send (the task killed its own process group, or "
                          "the kernel killed it, e.g. out of memory)");
    log.Line(LogStream::kErr, absl::StrCat("hai: ", reason));
  }
  if (!WriteExitFile(o.exit_path, *code, reason, self_inflicted).ok()) return 1;
  return 0;
}

}  // namespace hai::manager
