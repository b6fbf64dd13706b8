#include "manager/storage/path_template.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hai::storage {
namespace {

// Calls `on_text` for literal text and `on_field` for each placeholder name; stops at the
// first error from the template or a callback.
template <typename OnText, typename OnField>
absl::Status Scan(std::string_view tmpl, OnText on_text, OnField on_field) {
  size_t i = 0;
  while (i < tmpl.size()) {
    const char c = tmpl[i];
    if (c == '\0') return absl::InvalidArgumentError("path contains a NUL byte");
    if (c == '}') {
      return absl::InvalidArgumentError(absl::StrCat("unmatched '}' at column ", i + 1));
    }
    if (c != '{') {
      const size_t next = tmpl.find_first_of(std::string_view("{}\0", 3), i);
      const size_t end = next == std::string_view::npos ? tmpl.size() : next;
      on_text(tmpl.substr(i, end - i));
      i = end;
      continue;
    }
    const size_t close = tmpl.find('}', i + 1);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unclosed '{' at column ", i + 1));
    }
    const std::string_view name = tmpl.substr(i + 1, close - i - 1);
    if (!IsKnownField(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown placeholder {", std::string(name), "} at column ", i + 1,
                       " (known: {", absl::StrJoin(FieldNames(), "}, {"), "})"));
    }
    if (absl::Status s = on_field(name); !s.ok()) return s;
    i = close + 1;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTemplate(std::string_view tmpl) {
  return Scan(
      tmpl, [](std::string_view) {}, [](std::string_view) { return absl::OkStatus(); });
}

absl::Status CheckValue(std::string_view name, std::string_view value) {
  const std::string field = absl::StrCat("{", std::string(name), "}");
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (value == "." || value == "..") {
    return absl::InvalidArgumentError(absl::StrCat(field, " is '", std::string(value), "'"));
  }
  if (value.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " = '", std::string(value), "' contains '/'"));
  }
  if (value.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeAbsolutePath(std::string_view path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path '", std::string(path), "' is not absolute"));
  }
  if (path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("path contains a NUL byte");
  }
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(i, end - i);
    i = end + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "path '", std::string(path), "' has a '", std::string(part), "' component"));
    }
    out.push_back('/');
    out.append(part);
  }
  return out.empty() ? std::string("/") : out;
}

absl::StatusOr<std::string> ExpandPath(std::string_view tmpl, const Fields& fields) {
  std::string out;
  absl::Status s = Scan(
      tmpl, [&](std::string_view text) { out.append(text); },
      [&](std::string_view name) -> absl::Status {
        auto it = fields.find(name);
        const std::string_view value =
            it == fields.end() ? std::string_view() : std::string_view(it->second);
        if (absl::Status v = CheckValue(name, value); !v.ok()) return v;
        out.append(value);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return NormalizeAbsolutePath(out);
}

bool PathIsWithin(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

}  // namespace hai::storage
