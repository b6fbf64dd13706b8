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

absl::Status WriteExitFile(const std::string& path, int code) {
  return WriteFileAtomically(path, absl::StrCat(code, "\n"), 0644);
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
  int code = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &code)) {
    return absl::DataLossError(absl::StrCat("malformed exit file ", path));
  }
  return std::optional<int>(code);
}

}  // namespace hai::manager
