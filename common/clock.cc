// The wall clock (clock.h).
#include "common/clock.h"

#include "absl/time/clock.h"

namespace hai {
namespace {

class WallClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};

}  // namespace

Clock& RealClock() {
  static WallClock* const clock = new WallClock();
  return *clock;
}

}  // namespace hai
