// External commands without a shell; see command.h.
#include "common/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace hai {
namespace {

// Closes a descriptor once; -1 = none.
struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// argv[0] resolved in the PATH of `env` (execve does no lookup); "" when not found.
std::string Resolve(const std::string& program, const std::vector<std::string>& env) {
  if (program.find('/') != std::string::npos) return program;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int StatusToCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  const std::string binary = Resolve(argv[0], options.env);
  if (binary.empty() || ::access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(argv[0], ": no such executable"));
  }
  std::vector<char*> cargv, cenv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const std::string& e : options.env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  Fd in_r{in[0]}, in_w{in[1]};
  if (::pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  Fd out_r{out[0]}, out_w{out[1]};
  if (::pipe2(err, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  Fd err_r{err[0]}, err_w{err[1]};

  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // Own process group: a timeout kills the command and whatever it started.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(in_r.fd, 0);
    ::dup2(out_w.fd, 1);
    ::dup2(err_w.fd, 2);
    ::execve(binary.c_str(), cargv.data(), cenv.data());
    ::_exit(127);
  }
  in_r.Close();
  out_w.Close();
  err_w.Close();
  ::fcntl(in_w.fd, F_SETFL, O_NONBLOCK);
  if (options.stdin_data.empty()) in_w.Close();

  CommandResult result;
  size_t written = 0;
  const absl::Time deadline = absl::Now() + options.timeout;
  absl::Status failure;
  while (out_r.fd >= 0 || err_r.fd >= 0 || in_w.fd >= 0) {
    pollfd fds[3];
    nfds_t n = 0;
    Fd* owners[3];
    std::string* sinks[3];
    for (auto [fd, sink] : {std::pair<Fd*, std::string*>{&out_r, &result.out},
                            std::pair<Fd*, std::string*>{&err_r, &result.err}}) {
      if (fd->fd < 0) continue;
      fds[n] = {fd->fd, POLLIN, 0};
      owners[n] = fd;
      sinks[n++] = sink;
    }
    if (in_w.fd >= 0) {
      fds[n] = {in_w.fd, POLLOUT, 0};
      owners[n] = &in_w;
      sinks[n++] = nullptr;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      failure = absl::DeadlineExceededError(
          absl::StrCat(argv[0], " did not finish within ", absl::FormatDuration(options.timeout)));
      break;
    }
    const int r = ::poll(fds, n, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno != EINTR) {
      failure = absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
      break;
    }
    for (nfds_t i = 0; r > 0 && i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (sinks[i] == nullptr) {  // stdin
        const ssize_t w = ::write(in_w.fd, options.stdin_data.data() + written,
                                  options.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == options.stdin_data.size()) {
          in_w.Close();
        }
        continue;
      }
      char buf[65536];
      const ssize_t got = ::read(owners[i]->fd, buf, sizeof(buf));
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
        if (sinks[i]->size() > options.max_output_bytes) {
          failure = absl::ResourceExhaustedError(
              absl::StrCat(argv[0], " wrote more than ", options.max_output_bytes, " bytes"));
        }
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        owners[i]->Close();
      }
    }
    if (!failure.ok()) break;
  }
  int status = 0;
  // A command that closed its output may still run: it gets the rest of the deadline.
  while (failure.ok()) {
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) {
      result.exit_code = StatusToCode(status);
      return result;
    }
    if (absl::Now() >= deadline) {
      failure = absl::DeadlineExceededError(
          absl::StrCat(argv[0], " did not finish within ", absl::FormatDuration(options.timeout)));
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return failure;
}

}  // namespace hai
