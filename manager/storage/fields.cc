#include "manager/storage/fields.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace hai::storage {

const std::vector<std::string>& FieldNames() {
  static const auto* kNames = new std::vector<std::string>{
      "task.chain_id", "task.group", "task.id", "task.nb_name", "user.uid", "user.user_name"};
  return *kNames;
}

bool IsKnownField(std::string_view name) {
  const auto& names = FieldNames();
  return std::binary_search(names.begin(), names.end(), name);
}

Fields MakeFields(const StorageUser& user, const StorageTask& task) {
  return Fields{
      {"task.chain_id", absl::StrCat(task.chain_id)},
      {"task.group", task.group},
      {"task.id", absl::StrCat(task.chain_id)},
      {"task.nb_name", task.name},
      {"user.uid", absl::StrCat(user.uid)},
      {"user.user_name", user.user_name},
  };
}

}  // namespace hai::storage
