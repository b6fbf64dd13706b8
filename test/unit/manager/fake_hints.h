// FakeHints: the lifecycle's Hints (manager/hints.h) without Redis. Wait sleeps on the fake
// clock (so scheduled actions fire); published states are kept for the test to read.
#pragma once

#include <string>
#include <vector>

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
  void PublishState(const std::string& state) override { published.push_back(state); }

  int waits = 0;
  std::vector<std::string> published;

 private:
  FakeClock& clock_;
};

}  // namespace hai::manager::testing
