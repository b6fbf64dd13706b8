// Notifier over Redis PUBLISH on "<prefix>:control:<attempt_id>". Hints only: when Redis is
// down the publish is dropped (logged once per outage) and managers still see the request
// on their next Postgres poll. Thread-safe (a mutex around one connection).
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/redis.h"
#include "scheduler/events/notifier.h"

namespace hai {

class RedisNotifier : public Notifier {
 public:
  // `password`: AUTH after each connect when non-empty ([redis] password).
  RedisNotifier(std::string host, int port, std::string prefix, std::string password = "");
  ~RedisNotifier() override;
  void NotifyManager(int64_t attempt_id, const std::string& command) override;

 private:
  bool EnsureConnected() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string host_;
  int port_;
  std::string prefix_;
  std::string password_;
  absl::Mutex mu_;
  std::unique_ptr<RedisClient> client_ ABSL_GUARDED_BY(mu_);
  bool warned_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hai
