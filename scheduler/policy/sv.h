// Debian's abseil is built with its own absl::string_view (not an alias of std::string_view),
// so std::string_view must be converted explicitly before it reaches StrCat, StrSplit or a
// heterogeneous hash-map lookup. Internal to the policy library.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace hai::policy::internal {

inline absl::string_view Av(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace hai::policy::internal
