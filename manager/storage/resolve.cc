// Mount resolution; the rules are in resolve.h and docs/storage.md.
#include "manager/storage/resolve.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "manager/storage/condition.h"
#include "manager/storage/path_template.h"

namespace hai::storage {
namespace {

// Precedence levels, lowest first.
constexpr std::array<const char*, 3> kLevels = {"public", "group", "user"};

bool OwnerMatches(const StorageRow& row, const StorageUser& user) {
  if (row.owner_kind == "public") return true;
  if (row.owner_kind == "user") return row.owner == user.user_name;
  if (row.owner_kind == "group") {
    return std::find(user.groups.begin(), user.groups.end(), row.owner) != user.groups.end();
  }
  return true;  // unknown owner_kind: nobody can tell whom it is for, so report it to all
}

absl::Status CheckMountPath(const std::string& path) {
  if (path == "/") return absl::InvalidArgumentError("mount_path may not be '/'");
  for (const std::string& root : ForbiddenMountRoots()) {
    if (PathIsWithin(path, root)) {
      return absl::InvalidArgumentError(
          absl::StrCat("mount_path ", path, " is inside ", root, ", which hai never covers"));
    }
  }
  return absl::OkStatus();
}

bool HasPlaceholder(const std::string& s) { return s.find('{') != std::string::npos; }

// A row that passed every check for this user and task.
struct Applied {
  const StorageRow* row;
  Mount mount;  // for remove rows only mount_path is set
};

}  // namespace

const std::vector<std::string>& ForbiddenMountRoots() {
  static const auto* kRoots = new std::vector<std::string>{"/dev", "/proc", "/sys"};
  return *kRoots;
}

absl::Status ValidateRow(const StorageRow& row) {
  if (row.owner_kind != "user" && row.owner_kind != "group" && row.owner_kind != "public") {
    return absl::InvalidArgumentError(
        absl::StrCat("owner_kind '", row.owner_kind, "' is not user, group or public"));
  }
  if ((row.owner_kind == "user" || row.owner_kind == "group") && row.owner.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(row.owner_kind, " row without an owner"));
  }
  if (row.action != "add" && row.action != "remove") {
    return absl::InvalidArgumentError(
        absl::StrCat("action '", row.action, "' is not add or remove"));
  }
  if (auto c = Condition::Parse(row.conditions); !c.ok()) return c.status();
  if (absl::Status s = CheckTemplate(row.mount_path); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("mount_path: ", s.message()));
  }
  if (!HasPlaceholder(row.mount_path)) {
    auto p = NormalizeAbsolutePath(row.mount_path);
    if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("mount_path: ", p.status().message()));
    if (absl::Status s = CheckMountPath(*p); !s.ok()) return s;
  }
  if (row.action == "remove") return absl::OkStatus();  // host_path and type are ignored
  // configmap and pvc name a Kubernetes object by host_path ("/<name>[/<key or subpath>]");
  // only the Kubernetes runtime can mount them (the local runtime fails such a rank).
  if (row.mount_type != "bind" && row.mount_type != "workspace" &&
      row.mount_type != "configmap" && row.mount_type != "pvc") {
    return absl::InvalidArgumentError(absl::StrCat(
        "mount_type '", row.mount_type, "' is not bind, workspace, configmap or pvc"));
  }
  if (absl::Status s = CheckTemplate(row.host_path); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("host_path: ", s.message()));
  }
  if (!HasPlaceholder(row.host_path)) {
    auto p = NormalizeAbsolutePath(row.host_path);
    if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("host_path: ", p.status().message()));
  }
  return absl::OkStatus();
}

Resolution ResolveMounts(const std::vector<StorageRow>& rows, const StorageUser& user,
                         const StorageTask& task) {
  Resolution out;
  const Fields fields = MakeFields(user, task);
  auto problem = [&](const StorageRow& row, std::string reason) {
    out.problems.push_back({row.id, std::move(reason)});
  };

  // Steps 1-2: filter, validate, evaluate, expand. Rows are taken in id order so problems
  // and ties are deterministic whatever order the caller loaded them in.
  std::vector<const StorageRow*> sorted;
  for (const StorageRow& row : rows) sorted.push_back(&row);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const StorageRow* a, const StorageRow* b) { return a->id < b->id; });
  std::map<std::string, std::vector<Applied>> by_level;
  for (const StorageRow* rp : sorted) {
    const StorageRow& row = *rp;
    if (!row.active || !OwnerMatches(row, user)) continue;
    if (absl::Status s = ValidateRow(row); !s.ok()) {
      problem(row, std::string(s.message()));
      continue;
    }
    auto cond = Condition::Parse(row.conditions);  // parses: ValidateRow checked it
    if (!cond.ok() || !cond->Evaluate(fields)) continue;
    Applied a{&row, Mount{}};
    auto mount_path = ExpandPath(row.mount_path, fields);
    if (!mount_path.ok()) {
      problem(row, absl::StrCat("mount_path: ", mount_path.status().message()));
      continue;
    }
    if (absl::Status s = CheckMountPath(*mount_path); !s.ok()) {
      problem(row, std::string(s.message()));
      continue;
    }
    a.mount.mount_path = *mount_path;
    a.mount.row_id = row.id;
    if (row.action == "add") {
      auto host_path = ExpandPath(row.host_path, fields);
      if (!host_path.ok()) {
        problem(row, absl::StrCat("host_path: ", host_path.status().message()));
        continue;
      }
      a.mount.host_path = *host_path;
      a.mount.read_only = row.read_only;
      a.mount.type = row.mount_type;
    }
    by_level[row.owner_kind].push_back(std::move(a));
  }

  // Step 3: levels, removes before adds within a level.
  std::map<std::string, Mount> mounts;  // by mount_path: byte-wise order (step 4)
  for (const char* level : kLevels) {
    auto it = by_level.find(level);
    if (it == by_level.end()) continue;
    for (const Applied& a : it->second) {
      if (a.row->action == "remove") mounts.erase(a.mount.mount_path);
    }
    std::map<std::string, const Applied*> added;  // this level's winner per mount_path
    for (const Applied& a : it->second) {
      if (a.row->action != "add") continue;
      auto [slot, fresh] = added.try_emplace(a.mount.mount_path, &a);
      if (!fresh) {
        // Rows are in id order: the later row wins.
        problem(*slot->second->row,
                absl::StrCat("overridden by row ", a.row->id, " (same ", level,
                             "-level mount_path ", a.mount.mount_path, ")"));
        slot->second = &a;
      }
    }
    for (const auto& [path, a] : added) mounts[path] = a->mount;
  }
  for (auto& [path, m] : mounts) out.mounts.push_back(std::move(m));
  return out;
}

}  // namespace hai::storage
