#include "test/integration/manager/process_helpers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/time/clock.h"

namespace hai::testing {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::map<pid_t, int>& Reaped() {
  static std::map<pid_t, int> reaped;
  return reaped;
}

void ReapAll() {
  int status = 0;
  pid_t p;
  while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) Reaped()[p] = status;
}

bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    ReapAll();
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return cond();
}

int WaitExit(pid_t pid, absl::Duration timeout) {
  if (!WaitUntil([&] { return Reaped().count(pid) > 0; }, timeout)) return -1;
  const int st = Reaped()[pid];
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void KillTaskGroups(const std::string& dir) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 10 || name.substr(name.size() - 10) != ".exit.pgid") continue;
    std::ifstream in(it->path());
    int pgid = 0;
    if (in >> pgid && pgid > 1) ::kill(-pgid, SIGKILL);
  }
}

bool GroupGone(int pgid) { return ::kill(-pgid, 0) != 0 && errno == ESRCH; }

pid_t SpawnManager(const std::string& bin, int64_t attempt, const std::string& config,
                   const std::string& log_path) {
  const std::string id = std::to_string(attempt);
  const pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::freopen(log_path.c_str(), "w", stdout);
    (void)f;
    ::dup2(1, 2);
    ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "--attempt", id.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(99);
  }
  return pid;
}

}  // namespace hai::testing
