#include "manager/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "manager/runtime/local/unique_fd.h"

namespace hai::manager {

absl::Status WriteFileAtomically(const std::string& path, const std::string& content,
                                 mode_t mode) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) {
    return absl::InternalError(absl::StrCat("create ", tmp, ": ", std::strerror(errno)));
  }
  if (::write(fd.get(), content.data(), content.size()) !=
          static_cast<ssize_t>(content.size()) ||
      ::fsync(fd.get()) != 0) {
    return absl::InternalError(absl::StrCat("write ", tmp, ": ", std::strerror(errno)));
  }
  fd.Reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace hai::manager
