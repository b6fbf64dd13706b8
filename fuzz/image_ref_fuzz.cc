// Image references (scheduler/api/image_ref.h): any bytes are accepted or refused with
// InvalidArgument; an accepted reference is short and free of control characters and spaces.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "scheduler/api/image_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view ref(reinterpret_cast<const char*>(data), size);
  const absl::Status s = hai::api::CheckImageReference(ref);
  const bool control = hai::api::HasControlCharacter(ref);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "%s", s.ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(!control, "accepted a reference with a control character");
  FUZZ_CHECK(ref.size() <= hai::api::kMaxImageReferenceLength, "accepted %zu bytes", ref.size());
  FUZZ_CHECK(ref.find(' ') == std::string_view::npos, "accepted a space");
  return 0;
}
