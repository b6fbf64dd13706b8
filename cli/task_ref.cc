// TASK argument parsing; see task_ref.h.
#include "cli/task_ref.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/exit_codes.h"

namespace hai::cli {

absl::StatusOr<hai::v1::TaskRef> ParseTaskRef(absl::string_view text) {
  if (text.empty()) return UsageError("empty TASK: give a chain id or a task name");
  hai::v1::TaskRef ref;
  const bool digits = std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  if (digits) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(text, &id) || id <= 0) {
      return UsageError(absl::StrCat("bad chain id '", text, "'"));
    }
    ref.set_chain_id(id);
  } else {
    ref.set_name(std::string(text));
  }
  return ref;
}

}  // namespace hai::cli
