// The fields storage rows may refer to, in path templates ("{user.user_name}") and in
// conditions (`task.group == "a100"`). One fixed set; see docs/storage.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hai::storage {

// The user a task runs for: users.user_name, users.uid and the groups of
// user_group_members.
struct StorageUser {
  std::string user_name;
  int64_t uid = 0;
  std::vector<std::string> groups;
};

// The task (chain) being started.
struct StorageTask {
  int64_t chain_id = 0;
  std::string name;   // chains.name ("nb_name" in HAI)
  std::string group;  // chains.node_group
};

// Field name -> value.
using Fields = std::map<std::string, std::string, std::less<>>;

// The known field names, sorted: task.chain_id, task.group, task.id, task.nb_name,
// user.uid, user.user_name. task.id and task.chain_id are both the chain id (the stable
// task id users see); there is no per-attempt field, so mounts do not change on resume.
const std::vector<std::string>& FieldNames();
bool IsKnownField(std::string_view name);

Fields MakeFields(const StorageUser& user, const StorageTask& task);

}  // namespace hai::storage
