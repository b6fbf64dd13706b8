// Private mount namespace with bind mounts; see mount_namespace.h.
#include "manager/runtime/local/mount_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace hai::manager {
namespace {

std::string Errno(int e) { return std::strerror(e); }

// mkdir -p; `leaf_mode` for the last component when it is created.
absl::Status MakeDirs(const std::string& path, mode_t leaf_mode) {
  std::string prefix;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = path.find('/', i + 1);
    if (end == std::string::npos) end = path.size();
    prefix = path.substr(0, end);
    i = end;
    if (prefix == "/") continue;
    const bool leaf = end == path.size();
    if (::mkdir(prefix.c_str(), leaf ? leaf_mode : 0755) == 0) {
      if (leaf) ::chmod(prefix.c_str(), leaf_mode);  // not narrowed by the umask
      continue;
    }
    const int e = errno;
    struct stat st {};
    if (e == EEXIST && ::stat(prefix.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create directory ", prefix, ": ", Errno(e == EEXIST ? ENOTDIR : e)));
  }
  return absl::OkStatus();
}

std::string Describe(const storage::Mount& m) {
  return absl::StrCat(m.host_path, " -> ", m.mount_path, m.read_only ? " (read-only)" : "",
                      ", storage row ", m.row_id);
}

absl::Status ApplyOne(const storage::Mount& m, int64_t uid, int64_t gid) {
  if (m.type == "configmap" || m.type == "pvc") {
    return absl::FailedPreconditionError(absl::StrCat(
        "mount ", Describe(m), ": mount_type ", m.type, " needs the kubernetes runtime"));
  }
  struct stat src {};
  if (::stat(m.host_path.c_str(), &src) != 0 && errno == ENOENT && m.type == "workspace") {
    if (absl::Status s = MakeDirs(m.host_path, 0700); !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("mount ", Describe(m), ": workspace: ", s.message()));
    }
    // A new workspace belongs to the rank's user; one that exists keeps its owner.
    if (uid >= 0 &&
        ::chown(m.host_path.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("mount ", Describe(m), ": workspace: chown: ", Errno(errno)));
    }
  }
  if (::stat(m.host_path.c_str(), &src) != 0) {
    return absl::NotFoundError(absl::StrCat("mount ", Describe(m), ": host path ", m.host_path,
                                            ": ", Errno(errno)));
  }
  // The mount point, created through any parent mount applied before this one.
  absl::Status point;
  if (S_ISDIR(src.st_mode)) {
    point = MakeDirs(m.mount_path, 0755);
  } else {
    point = MakeDirs(std::filesystem::path(m.mount_path).parent_path().string(), 0755);
    if (point.ok()) {
      const int fd = ::open(m.mount_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::close(fd);
      } else if (errno != EISDIR) {
        point = absl::FailedPreconditionError(
            absl::StrCat("cannot create file ", m.mount_path, ": ", Errno(errno)));
      }
    }
  }
  if (!point.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("mount ", Describe(m), ": mount point: ", point.message()));
  }
  if (::mount(m.host_path.c_str(), m.mount_path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("mount ", Describe(m), ": bind: ", Errno(errno)));
  }
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV;
  if (m.read_only) flags |= MS_RDONLY;
  if (::mount(nullptr, m.mount_path.c_str(), nullptr, flags, nullptr) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("mount ", Describe(m), ": remount: ", Errno(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnterMountNamespace(const std::vector<storage::Mount>& mounts, int64_t uid,
                                 int64_t gid) {
  if (mounts.empty()) return absl::OkStatus();
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("storage mounts need the manager to run as root (", mounts.size(),
                     " mount(s) requested, running as uid ", ::geteuid(), ")"));
  }
  if (::unshare(CLONE_NEWNS) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create a mount namespace: unshare: ", Errno(errno)));
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make / a slave mount: ", Errno(errno)));
  }
  for (const storage::Mount& m : mounts) {
    if (absl::Status s = ApplyOne(m, uid, gid); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace hai::manager
