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
#include "manager/runtime/local/unique_fd.h"

namespace hai::manager {

absl::Status WriteExitFile(const std::string& path, int code) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return absl::InternalError(absl::StrCat("create ", tmp, ": ", std::strerror(errno)));
  }
  const std::string text = absl::StrCat(code, "\n");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    return absl::InternalError(absl::StrCat("write ", tmp, ": ", std::strerror(errno)));
  }
  fd.Reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
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
