// FakeHints: the lifecycle's Hints (manager/hints.h) without Redis. Wait sleeps on the fake
// clock (so scheduled actions fire) and counts the waits.
#pragma once

#include "manager/hints.h"
#include "test/unit/manager/fake_clock.h"

namespace hai::manager::testing {

class FakeHints : public Hints {
 public:
  explicit FakeHints(FakeClock& clock) : clock_(clock) {}
  void Wait(absl::Duration timeout) override {
    ++waits;
    clock_.SleepFor(timeout);
  }

  int waits = 0;

 private:
  FakeClock& clock_;
};

}  // namespace hai::manager::testing
