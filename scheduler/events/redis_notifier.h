// Notifier over Redis PUBLISH on "<prefix>:control:<attempt_id>". Hints only: when Redis is
// down the publish is dropped (logged once per outage) and managers still see the request
// on their next Postgres poll. Thread-safe (a mutex around one connection).
#pragma once

#include <mutex>
#include <string>

#include "scheduler/events/notifier.h"

struct redisContext;

namespace hai {

class RedisNotifier : public Notifier {
 public:
  RedisNotifier(std::string host, int port, std::string prefix);
  ~RedisNotifier() override;
  void NotifyManager(int64_t attempt_id, const std::string& command) override;

 private:
  bool EnsureConnected();  // requires mu_
  std::string host_;
  int port_;
  std::string prefix_;
  std::mutex mu_;
  redisContext* ctx_ = nullptr;  // guarded by mu_
  bool warned_ = false;          // guarded by mu_
};

}  // namespace hai
