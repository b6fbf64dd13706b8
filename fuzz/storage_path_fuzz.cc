// Storage path templates (manager/storage/path_template.h): a template is checked, then
// expanded with field values; an expansion that succeeds is an absolute, normalised path
// (no "." or ".." component, no NUL) whatever the template and the values were.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "fuzz/fuzz_check.h"
#include "manager/storage/fields.h"
#include "manager/storage/path_template.h"

namespace st = hai::storage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  st::Fields fields;
  for (const std::string& name : st::FieldNames()) {
    if (in.ConsumeBool()) fields[name] = in.ConsumeRandomLengthString(64);
  }
  const std::string tmpl = in.ConsumeRemainingBytesAsString();
  const absl::Status check = st::CheckTemplate(tmpl);
  absl::StatusOr<std::string> path = st::ExpandPath(tmpl, fields);
  if (!check.ok()) {
    FUZZ_CHECK(!path.ok(), "template refused by CheckTemplate expands: %s",
               check.ToString().c_str());
  }
  absl::StatusOr<std::string> normal = st::NormalizeAbsolutePath(tmpl);
  if (normal.ok()) {
    absl::StatusOr<std::string> twice = st::NormalizeAbsolutePath(*normal);
    FUZZ_CHECK(twice.ok() && *twice == *normal, "normalising '%s' is not idempotent",
               normal->c_str());
  }
  if (!path.ok()) return 0;
  FUZZ_CHECK(!path->empty() && (*path)[0] == '/', "'%s' is not absolute", path->c_str());
  FUZZ_CHECK(path->find('\0') == std::string::npos, "expansion holds a NUL");
  FUZZ_CHECK(!absl::StrContains(*path, "//"), "'%s' has an empty component", path->c_str());
  FUZZ_CHECK(!absl::StrContains(*path + "/", "/../") && !absl::StrContains(*path + "/", "/./"),
             "'%s' has a dot component", path->c_str());
  FUZZ_CHECK(st::PathIsWithin(*path, "/"), "'%s' is not within /", path->c_str());
  FUZZ_CHECK(st::PathIsWithin(*path, *path), "'%s' is not within itself", path->c_str());
  return 0;
}
