// The scheduling loop's view of leader election (scheduler/election/leader_elector.h): whether
// this replica leads, with which epoch, and a way to give leadership up when Postgres refused
// a write for a later epoch. No pqxx here: the loop's unit tests use a plain fake.
#pragma once

#include <cstdint>
#include <string>

namespace hai {

class Leadership {
 public:
  virtual ~Leadership() = default;
  // The epoch this replica was elected with, or 0 while it is a standby (or cannot prove its
  // lease is still valid).
  virtual int64_t Epoch() const = 0;
  // A write carrying `epoch` was refused for `newer`: stop leading (if still leading with
  // `epoch`) and stand by.
  virtual void StepDown(int64_t epoch, int64_t newer, const std::string& why) = 0;
};

}  // namespace hai
