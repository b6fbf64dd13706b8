#include "common/proc.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hai::proc {
namespace {

// The whole file; nullopt with errno set on failure.
std::optional<std::string> Slurp(const std::string& path, int* err) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *err = errno;
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  *err = failed ? errno : 0;
  std::fclose(f);
  if (failed) return std::nullopt;
  return out;
}

bool IsGoneErrno(int err) { return err == ENOENT || err == ESRCH; }

}  // namespace

std::optional<Stat> ParseStat(std::string_view text) {
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // Fields from 3 on, separated by single spaces.
  std::vector<std::string> f =
      absl::StrSplit(std::string(text.substr(close + 1)), ' ', absl::SkipEmpty());
  // f[0] is field 3; field N is f[N - 3].
  if (f.size() < 20 || f[0].size() != 1) return std::nullopt;
  Stat s;
  s.state = f[0][0];
  int64_t pgrp = 0;
  if (!absl::SimpleAtoi(f[5 - 3], &pgrp)) return std::nullopt;
  s.pgrp = static_cast<pid_t>(pgrp);
  if (!absl::SimpleAtoi(f[22 - 3], &s.start_time)) return std::nullopt;
  return s;
}

Process Read(pid_t pid, const std::string& proc_root) {
  Process p;
  if (pid <= 0) {
    p.lookup = Lookup::kGone;
    return p;
  }
  const std::string dir = absl::StrCat(proc_root, "/", pid);
  int err = 0;
  std::optional<std::string> stat = Slurp(dir + "/stat", &err);
  if (!stat.has_value()) {
    // /proc may hide a process that exists (mounted with hidepid=, or another pid
    // namespace's /proc): gone only when the kernel agrees.
    const bool exists = ::kill(pid, 0) == 0 || errno == EPERM;
    p.lookup = IsGoneErrno(err) && !exists ? Lookup::kGone : Lookup::kUnknown;
    return p;
  }
  std::optional<Stat> parsed = ParseStat(*stat);
  if (!parsed.has_value()) return p;  // kUnknown
  p.stat = *parsed;
  if (p.stat.state == 'Z' || p.stat.state == 'X') {
    p.lookup = Lookup::kGone;
    return p;
  }
  std::optional<std::string> cmdline = Slurp(dir + "/cmdline", &err);
  if (!cmdline.has_value()) {
    p.lookup = IsGoneErrno(err) ? Lookup::kGone : Lookup::kUnknown;
    return p;
  }
  if (!cmdline->empty() && cmdline->back() == '\0') cmdline->pop_back();
  if (!cmdline->empty()) p.argv = absl::StrSplit(*cmdline, absl::ByChar('\0'));
  p.lookup = Lookup::kFound;
  return p;
}

std::optional<int64_t> SelfStartTime() {
  int err = 0;
  std::optional<std::string> stat = Slurp("/proc/self/stat", &err);
  if (!stat.has_value()) return std::nullopt;
  std::optional<Stat> parsed = ParseStat(*stat);
  if (!parsed.has_value()) return std::nullopt;
  return parsed->start_time;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace hai::proc
