// The config loader (common/config.h): any text parses into a Config or is refused with
// InvalidArgument; never an exception, a crash or another code.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<hai::Config> c = hai::ParseConfig(text, "fuzz.toml");
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               c.status().ToString().c_str());
  }
  return 0;
}
