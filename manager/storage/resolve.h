// Mount resolution: which rows of the `storage` table apply to one task, and the bind mounts
// they produce. Pure: no database, no filesystem. The full contract is in docs/storage.md.
//
// Order (the tests in test/unit/storage/resolve_test.cc pin it):
//   1. Only active rows whose owner matches take part: owner_kind 'user' with owner = the
//      user's name, 'group' with owner = one of the user's groups, 'public' (owner ignored).
//   2. Each such row is validated (ValidateRow), its condition evaluated, and its paths
//      expanded. An invalid row is skipped and reported as a StorageProblem; a row whose
//      condition is false is skipped silently.
//   3. Levels apply from the lowest to the highest precedence: public, then group, then user.
//      Within a level, every 'remove' row first drops the mount at its mount_path (whatever a
//      lower level put there), then every 'add' row puts its mount at its mount_path,
//      replacing a lower level's. Two add rows of one level with the same mount_path: the one
//      with the higher id wins; the other is reported.
//   4. The result is sorted by mount_path, byte-wise, so a parent directory is mounted before
//      anything below it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "manager/storage/fields.h"
#include "manager/storage/mount.h"

namespace hai::storage {

// One row of the `storage` table.
struct StorageRow {
  int64_t id = 0;
  std::string host_path;
  std::string mount_path;
  std::string owner_kind = "public";  // user|group|public
  std::string owner = "public";
  std::string conditions;
  std::string mount_type = "bind";  // bind|workspace|configmap|pvc
  bool read_only = false;
  std::string action = "add";  // add|remove
  bool active = true;
};

struct StorageProblem {
  int64_t row_id = 0;
  std::string reason;
  bool operator==(const StorageProblem&) const = default;
};

struct Resolution {
  std::vector<Mount> mounts;  // sorted by mount_path
  std::vector<StorageProblem> problems;
};

// Mount points hai refuses to cover: "/" itself and anything at or below these.
const std::vector<std::string>& ForbiddenMountRoots();

// Checks that need no user or task: owner_kind/action/mount_type known, the condition parses,
// both templates are well formed, and a template-free mount_path is allowed. Used for every
// row (and by `admin check`-style reports), whoever it would apply to.
absl::Status ValidateRow(const StorageRow& row);

Resolution ResolveMounts(const std::vector<StorageRow>& rows, const StorageUser& user,
                         const StorageTask& task);

}  // namespace hai::storage
