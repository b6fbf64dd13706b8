// Small synchronous Redis clients over hiredis, for the two things hai does with Redis:
// publishing hints (RedisClient) and waiting for them (RedisSubscriber). Every Redis message in
// hai is a hint that the receiver can re-derive from Postgres, so callers treat any error here
// as "degraded latency": log, drop the client, reconnect later. Nothing here throws.
//
// Neither class is thread-safe; each belongs to the one loop that owns it.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct redisContext;

namespace hai {

// Owns a hiredis context; frees it on destruction.
class RedisConnection {
 public:
  // Connects with `timeout` bounding the TCP connect and every later command, then sends
  // AUTH when `password` is non-empty. A refused password (or one missing where the server
  // requires it) is Unauthenticated, apart from Unavailable for a server that cannot be
  // reached: retrying does not fix a wrong password.
  static absl::StatusOr<RedisConnection> Connect(const std::string& host, int port,
                                                 absl::Duration timeout,
                                                 const std::string& password = "");
  RedisConnection(RedisConnection&& other) noexcept;
  RedisConnection& operator=(RedisConnection&& other) noexcept;
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;
  ~RedisConnection();

  redisContext* get() const { return ctx_; }
  // A Status describing the context's current error (Unavailable for I/O errors).
  absl::Status ContextError(const std::string& what) const;

 private:
  explicit RedisConnection(redisContext* ctx) : ctx_(ctx) {}
  redisContext* ctx_ = nullptr;
};

// A request/response connection: publishing and simple commands.
class RedisClient {
 public:
  static absl::StatusOr<std::unique_ptr<RedisClient>> Connect(const std::string& host, int port,
                                                              absl::Duration timeout,
                                                              const std::string& password = "");
  // PUBLISH; returns the number of subscribers that received the message.
  absl::StatusOr<int64_t> Publish(const std::string& channel, const std::string& message);
  // PING, for health checks.
  absl::Status Ping();

 private:
  explicit RedisClient(RedisConnection conn) : conn_(std::move(conn)) {}
  RedisConnection conn_;
};

// One message received on a subscribed channel.
struct RedisMessage {
  std::string channel;
  std::string payload;
};

// A connection in subscriber mode. Next() waits on the socket with poll(2), so a timeout
// leaves the connection usable (a hiredis read timeout would poison the context).
class RedisSubscriber {
 public:
  static absl::StatusOr<std::unique_ptr<RedisSubscriber>> Connect(const std::string& host, int port,
                                                                  absl::Duration timeout,
                                                                  const std::string& password = "");
  // SUBSCRIBE to one channel; returns once the server confirmed it, so a message published
  // after Subscribe() returns is guaranteed to be delivered.
  absl::Status Subscribe(const std::string& channel);
  // The payload of the next message, or nullopt when none arrived within `timeout`.
  absl::StatusOr<std::optional<std::string>> Next(absl::Duration timeout);
  // Same, with the channel the message came from.
  absl::StatusOr<std::optional<RedisMessage>> NextMessage(absl::Duration timeout);

 private:
  explicit RedisSubscriber(RedisConnection conn) : conn_(std::move(conn)) {}
  // Reads one parsed reply, waiting at most until `deadline`; nullptr reply on timeout.
  absl::Status ReadReply(absl::Time deadline, void** reply);

  RedisConnection conn_;
  std::deque<RedisMessage> pending_;  // messages that arrived while awaiting a confirmation
};

}  // namespace hai
