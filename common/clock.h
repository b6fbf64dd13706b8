// Clock: the time source and the sleep of loops that wait (hai-manager's lifecycle), injected
// so their unit tests advance a fake clock instead of sleeping (conventions: inject time).
// RealClock() is absl::Now and absl::SleepFor.
#pragma once

#include "absl/time/time.h"

namespace hai {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Returns after `d` has passed on this clock.
  virtual void SleepFor(absl::Duration d) = 0;
};

// The process's wall clock; one shared instance.
Clock& RealClock();

}  // namespace hai
