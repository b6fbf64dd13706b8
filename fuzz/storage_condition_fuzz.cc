// The storage condition language (manager/storage/condition.h): any text either parses or is
// refused with InvalidArgument; what parses prints in a canonical form that parses back to
// the same condition (same canonical form, same verdict on the same fields).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "fuzz/fuzz_check.h"
#include "manager/storage/condition.h"
#include "manager/storage/fields.h"

using hai::storage::Condition;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Condition> c = Condition::Parse(text);
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               c.status().ToString().c_str());
    return 0;
  }
  const std::string canonical = c->ToString();
  // The always-true condition prints as "true" (condition.h), which is not in the language;
  // it is written as "" (empty).
  absl::StatusOr<Condition> again = Condition::Parse(canonical == "true" ? "" : canonical);
  // The canonical form parenthesises every group, so it may outgrow the limits on input
  // (4096 bytes, 32 levels) that an accepted text kept; ToString only serves tests and logs.
  if (!again.ok() && (absl::StrContains(again.status().message(), "longer than") ||
                      absl::StrContains(again.status().message(), "nested parentheses"))) {
    return 0;
  }
  FUZZ_CHECK(again.ok(), "canonical form '%s' does not parse: %s", canonical.c_str(),
             again.status().ToString().c_str());
  FUZZ_CHECK(again->ToString() == canonical, "'%s' reprints as '%s'", canonical.c_str(),
             again->ToString().c_str());
  // Fields taken from the input itself, so prefixes and equalities are sometimes true.
  hai::storage::StorageUser user{.user_name = std::string(text.substr(0, 8)), .uid = 1000};
  hai::storage::StorageTask task{
      .chain_id = 7, .name = std::string(text.substr(0, 3)), .group = "default"};
  for (const hai::storage::Fields& f :
       {hai::storage::Fields{}, hai::storage::MakeFields(user, task)}) {
    FUZZ_CHECK(c->Evaluate(f) == again->Evaluate(f), "'%s' changes its verdict when reprinted",
               canonical.c_str());
  }
  return 0;
}
