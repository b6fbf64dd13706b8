// Path templates of storage rows: "/srv/ws/{user.user_name}" with the fields of fields.h.
// Substitution is plain text replacement (nothing is evaluated), and a substituted value
// cannot leave its path component: it may not be empty, "." or "..", nor contain "/" or NUL.
// The resulting path must be absolute and is normalised (repeated and trailing "/" dropped);
// "." and ".." components are rejected, never resolved.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/storage/fields.h"

namespace hai::storage {

// Syntax only (braces balanced, placeholders known, no NUL); needs no values. Used to report
// a bad row whoever the task belongs to.
absl::Status CheckTemplate(std::string_view tmpl);

// Whether `value` may be substituted for `name` (see the header comment).
absl::Status CheckValue(std::string_view name, std::string_view value);

// Substitutes and normalises; InvalidArgument with the reason on any violation.
absl::StatusOr<std::string> ExpandPath(std::string_view tmpl, const Fields& fields);

// Absolute, no "."/".." components, no NUL; repeated and trailing slashes collapsed.
absl::StatusOr<std::string> NormalizeAbsolutePath(std::string_view path);

// Whether `path` equals `dir` or lies below it (both normalised).
bool PathIsWithin(std::string_view path, std::string_view dir);

}  // namespace hai::storage
