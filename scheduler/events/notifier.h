// Hints haid sends to managers: "look at Postgres now" for one attempt. A lost hint costs
// latency only, since managers also poll Postgres every heartbeat.
#pragma once

#include <cstdint>
#include <string>

namespace hai {

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Publishes `command` (stop|suspend|go_suspend) for the attempt's manager.
  virtual void NotifyManager(int64_t attempt_id, const std::string& command) = 0;
};

}  // namespace hai
