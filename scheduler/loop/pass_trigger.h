// What a writer outside the loop (a gRPC handler after a submit, stop or admin edit) needs of
// it: a pass soon. Calls coalesce.
#pragma once

namespace hai {

class PassTrigger {
 public:
  virtual ~PassTrigger() = default;
  virtual void Wake() = 0;
};

}  // namespace hai
