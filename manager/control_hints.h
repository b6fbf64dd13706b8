// ControlHints: the manager's Redis side. Control messages on `<prefix>:control:<attempt>`
// only wake the supervise loop early (Postgres stays the truth, re-read on every wake). Redis
// being down only costs latency: every failure drops the connection and a later call retries.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/redis.h"
#include "manager/hints.h"

namespace hai::manager {

class RedisHints : public Hints {
 public:
  // `password`: AUTH after connecting when non-empty ([redis] password).
  RedisHints(std::string host, int port, std::string prefix, int64_t attempt_id,
             std::string password = "");
  void Wait(absl::Duration timeout) override;

 private:
  bool MayRetry();  // rate-limits reconnects so a dead Redis is not hammered

  std::string host_;
  int port_;
  std::string prefix_;
  int64_t attempt_id_;
  std::string password_;
  std::unique_ptr<RedisSubscriber> sub_;
  absl::Time next_retry_ = absl::InfinitePast();
};

}  // namespace hai::manager
