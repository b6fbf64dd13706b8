// Atomic exit-status files; see exit_file.h.
#include "manager/runtime/local/exit_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "manager/atomic_file.h"
#include "manager/runtime/local/unique_fd.h"

namespace hai::manager {

namespace {
constexpr absl::string_view kSelfInflicted = "self-inflicted";
}  // namespace

absl::Status WriteExitFile(const std::string& path, int code, const std::string& reason,
                           bool self_inflicted) {
  std::string line = reason;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  // The flag needs the reason line before it (an empty reason cannot hold its place).
  if (self_inflicted && line.empty()) line = "killed by a signal hai did not send";
  return WriteFileAtomically(path,
                             absl::StrCat(code, "\n", line.empty() ? "" : absl::StrCat(line, "\n"),
                                          self_inflicted ? absl::StrCat(kSelfInflicted, "\n") : ""),
                             0644);
}

absl::StatusOr<std::optional<int>> ReadExitFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<int>();
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  char buf[32];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n < 0) return absl::InternalError(absl::StrCat("read ", path, ": ", std::strerror(errno)));
  absl::string_view text(buf, static_cast<size_t>(n));
  if (const size_t nl = text.find('\n'); nl != absl::string_view::npos) text = text.substr(0, nl);
  int code = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &code)) {
    return absl::DataLossError(absl::StrCat("malformed exit file ", path));
  }
  return std::optional<int>(code);
}

std::string ReadExitReason(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  char buf[1024];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n <= 0) return "";
  absl::string_view text(buf, static_cast<size_t>(n));
  const size_t nl = text.find('\n');
  if (nl == absl::string_view::npos) return "";
  text = text.substr(nl + 1);
  return std::string(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
}

bool ReadExitSelfInflicted(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  char buf[1024];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n <= 0) return false;
  absl::string_view text(buf, static_cast<size_t>(n));
  // code, reason, flag: the third line.
  for (int skip = 0; skip < 2; ++skip) {
    const size_t nl = text.find('\n');
    if (nl == absl::string_view::npos) return false;
    text = text.substr(nl + 1);
  }
  return absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))) == kSelfInflicted;
}

}  // namespace hai::manager
