// HAI_CHECK(cond) << "context": an invariant that, if violated, would corrupt state (a row
// whose state no enum names, a transition the model forbids reaching a writer). It aborts
// the process with the condition and the context instead of carrying on; expected failures
// (bad input, a lost connection) are absl::Status, never a CHECK.
#pragma once

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace hai::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": CHECK failed: " << condition << ": ";
  }
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  ~CheckFailure() {
    std::cerr << stream_.str() << std::endl;
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

}  // namespace hai::internal

#define HAI_CHECK(condition) \
  if (condition) {           \
  } else                     \
    ::hai::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()
