// Reading one sample out of haid's /metrics page (Prometheus text format), shared by the
// live-system benchmarks.
#pragma once

#include <sstream>
#include <string>

#include "absl/strings/numbers.h"

namespace hai::testing {

// The value of the unlabelled sample `name`, or -1 when the page has none.
inline double MetricValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) {
      double v = -1;
      if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) return v;
    }
  }
  return -1;
}

}  // namespace hai::testing
