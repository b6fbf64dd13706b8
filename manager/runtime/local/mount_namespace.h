// Storage mounts for the local runtime: the rank supervisor enters a private mount namespace
// and bind-mounts the rank's resolved mounts before it starts the user command. The user
// command and everything it starts see them; the host and other ranks do not.
//
//   1. unshare(CLONE_NEWNS), then make "/" recursively a slave mount: mounts the host adds
//      later still propagate in, nothing mounted here propagates out.
//   2. For each mount, in order (sorted by mount_path, parents first):
//      - type "workspace": a missing host directory is created (parents 0755, itself 0700,
//        owned by the rank's user when the rank runs as one);
//        type "bind": the host path must exist.
//      - the mount point is created when missing (mkdir -p; an empty file when the host path
//        is a file). This happens on the filesystem below, i.e. on the host for a top-level
//        mount: mount points are left behind as empty directories, like the mount points of
//        any bind mount. Inside a read-only parent mount it fails.
//      - MS_BIND (not recursive: mounts below the host path are not carried along, so a
//        read-only mount has no writable holes), then a remount with MS_NOSUID | MS_NODEV and
//        MS_RDONLY when read-only.
// Any failure fails the rank before the user command runs, with exit code
// kMountFailedExitCode and the reason in the rank log. With mounts but without root the
// rank fails the same way ("storage mounts need the manager to run as root"); without
// mounts nothing here runs.
//
// With a root manager the user command runs as its user without capabilities (see
// rank_supervisor.h), so it cannot remount or unmount any of this; with a non-root manager no
// mounts are possible at all.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "manager/storage/mount.h"

namespace hai::manager {

// Exit code of a rank whose mounts could not be set up (127 is "entrypoint/command missing").
inline constexpr int kMountFailedExitCode = 125;

// Applies `mounts` to the calling process in a new private mount namespace (see above).
// No-op for an empty list. FailedPrecondition when not root, else the first failure.
// `uid`/`gid` >= 0: workspace directories created here are chowned to them.
absl::Status EnterMountNamespace(const std::vector<storage::Mount>& mounts, int64_t uid = -1,
                                 int64_t gid = -1);

}  // namespace hai::manager
