// Hints: the seam between the lifecycle and the manager's Redis side (control_hints.h), so
// tests of the lifecycle need no Redis. A hint only wakes the loop early or announces a state;
// Postgres stays the truth.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace hai::manager {

class Hints {
 public:
  virtual ~Hints() = default;
  // Returns after `timeout`, or earlier when a control hint arrives.
  virtual void Wait(absl::Duration timeout) = 0;
  // Best effort announcement of a new attempt state.
  virtual void PublishState(const std::string& state) = 0;
};

}  // namespace hai::manager
