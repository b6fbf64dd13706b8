// FakeClock: a Clock (common/clock.h) whose time moves only when the code under test sleeps,
// with actions scheduled at points of that time. A lifecycle test scripts the world this way
// ("at 5 s rank 1 exits 3"): the lifecycle's waits (Hints::Wait in FakeHints, Clock::SleepFor)
// advance the clock and run every action that falls due, so a test of minutes of protocol
// runs in microseconds and never sleeps.
#pragma once

#include <functional>
#include <map>
#include <utility>

#include "absl/time/time.h"
#include "common/clock.h"

namespace hai::manager::testing {

class FakeClock : public Clock {
 public:
  // The epoch is arbitrary but fixed, so failures reproduce exactly.
  static constexpr absl::Time Epoch() { return absl::FromUnixSeconds(1'700'000'000); }

  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration d) override { AdvanceTo(now_ + d); }

  // Runs `action` once the clock reaches Epoch() + `at` (actions at the same time run in the
  // order they were scheduled).
  void At(absl::Duration at, std::function<void()> action) {
    actions_.emplace(std::make_pair(Epoch() + at, next_seq_++), std::move(action));
  }
  absl::Duration Elapsed() const { return now_ - Epoch(); }

 private:
  void AdvanceTo(absl::Time t) {
    while (!actions_.empty() && actions_.begin()->first.first <= t) {
      auto node = actions_.extract(actions_.begin());
      now_ = node.key().first;
      node.mapped()();
    }
    now_ = t;
  }

  absl::Time now_ = Epoch();
  int next_seq_ = 0;
  std::map<std::pair<absl::Time, int>, std::function<void()>> actions_;
};

}  // namespace hai::manager::testing
