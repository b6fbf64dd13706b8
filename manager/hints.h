// Hints: the seam between the lifecycle and the manager's Redis side (control_hints.h), so
// tests of the lifecycle need no Redis. A hint only wakes the loop early; Postgres stays the
// truth. (State changes reach haid by Postgres NOTIFY from the attempts trigger, in the same
// transaction as the write, so the manager announces nothing on Redis.)
#pragma once

#include "absl/time/time.h"

namespace hai::manager {

class Hints {
 public:
  virtual ~Hints() = default;
  // Returns after `timeout`, or earlier when a control hint arrives.
  virtual void Wait(absl::Duration timeout) = 0;
};

}  // namespace hai::manager
