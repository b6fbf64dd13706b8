// hiredis wrappers; see redis.h for why every failure is just a Status.
#include "common/redis.h"

#include <poll.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace hai {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval TimeoutOf(absl::Duration d) { return absl::ToTimeval(d); }

std::string ReplyString(const redisReply* r) {
  if (r == nullptr || r->str == nullptr) return "";
  return std::string(r->str, r->len);
}

// An error reply: Unauthenticated for NOAUTH (the server wants a password that was not
// given), Internal for the rest.
absl::Status ReplyError(const char* what, const redisReply* r) {
  const std::string text = ReplyString(r);
  const std::string message = absl::StrCat(what, ": ", text);
  if (text.rfind("NOAUTH", 0) == 0) return absl::UnauthenticatedError(message);
  return absl::InternalError(message);
}

// Timeout used while waiting for SUBSCRIBE confirmations.
constexpr absl::Duration kConfirmTimeout = absl::Seconds(5);

}  // namespace

// ------------------------------------------------------------------ RedisConnection

absl::StatusOr<RedisConnection> RedisConnection::Connect(const std::string& host, int port,
                                                         absl::Duration timeout,
                                                         const std::string& password) {
  redisContext* ctx = redisConnectWithTimeout(host.c_str(), port, TimeoutOf(timeout));
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot allocate redis context");
  RedisConnection conn(ctx);
  if (ctx->err != 0) {
    return conn.ContextError(absl::StrCat("connect to redis ", host, ":", port));
  }
  if (redisSetTimeout(ctx, TimeoutOf(timeout)) != REDIS_OK) {
    return conn.ContextError("set redis timeout");
  }
  if (!password.empty()) {
    ReplyPtr r(
        static_cast<redisReply*>(redisCommand(ctx, "AUTH %b", password.data(), password.size())));
    if (r == nullptr) return conn.ContextError(absl::StrCat("redis AUTH at ", host, ":", port));
    if (r->type == REDIS_REPLY_ERROR) {
      // WRONGPASS, or "ERR AUTH ... called without any password configured".
      return absl::UnauthenticatedError(
          absl::StrCat("redis AUTH at ", host, ":", port, ": ", ReplyString(r.get())));
    }
  }
  return conn;
}

RedisConnection::RedisConnection(RedisConnection&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)) {}

RedisConnection& RedisConnection::operator=(RedisConnection&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

RedisConnection::~RedisConnection() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

absl::Status RedisConnection::ContextError(const std::string& what) const {
  std::string detail = ctx_ != nullptr && ctx_->err != 0 ? ctx_->errstr : "unknown error";
  return absl::UnavailableError(absl::StrCat(what, ": ", detail));
}

// ------------------------------------------------------------------ RedisClient

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Connect(const std::string& host, int port,
                                                                  absl::Duration timeout,
                                                                  const std::string& password) {
  auto conn = RedisConnection::Connect(host, port, timeout, password);
  if (!conn.ok()) return conn.status();
  return std::unique_ptr<RedisClient>(new RedisClient(std::move(conn).value()));
}

absl::StatusOr<int64_t> RedisClient::Publish(const std::string& channel,
                                             const std::string& message) {
  ReplyPtr r(static_cast<redisReply*>(redisCommand(conn_.get(), "PUBLISH %b %b",
                                                   channel.data(), channel.size(),
                                                   message.data(), message.size())));
  if (r == nullptr) return conn_.ContextError("redis PUBLISH");
  if (r->type == REDIS_REPLY_ERROR) return ReplyError("redis PUBLISH", r.get());
  if (r->type != REDIS_REPLY_INTEGER) return absl::InternalError("redis PUBLISH: bad reply");
  return static_cast<int64_t>(r->integer);
}

absl::Status RedisClient::Ping() {
  ReplyPtr r(static_cast<redisReply*>(redisCommand(conn_.get(), "PING")));
  if (r == nullptr) return conn_.ContextError("redis PING");
  if (r->type == REDIS_REPLY_ERROR) return ReplyError("redis PING", r.get());
  return absl::OkStatus();
}

// ------------------------------------------------------------------ RedisSubscriber

absl::StatusOr<std::unique_ptr<RedisSubscriber>> RedisSubscriber::Connect(
    const std::string& host, int port, absl::Duration timeout, const std::string& password) {
  auto conn = RedisConnection::Connect(host, port, timeout, password);
  if (!conn.ok()) return conn.status();
  return std::unique_ptr<RedisSubscriber>(new RedisSubscriber(std::move(conn).value()));
}

absl::Status RedisSubscriber::ReadReply(absl::Time deadline, void** reply) {
  redisContext* ctx = conn_.get();
  *reply = nullptr;
  while (true) {
    if (redisGetReplyFromReader(ctx, reply) != REDIS_OK) {
      return conn_.ContextError("redis read");
    }
    if (*reply != nullptr) return absl::OkStatus();
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::OkStatus();
    pollfd pfd{ctx->fd, POLLIN, 0};
    int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60000));
    int n = poll(&pfd, 1, ms);
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("redis poll: ", strerror(errno)));
    }
    if (n <= 0) continue;
    if (redisBufferRead(ctx) != REDIS_OK) return conn_.ContextError("redis read");
  }
}

absl::Status RedisSubscriber::Subscribe(const std::string& channel) {
  redisContext* ctx = conn_.get();
  if (redisAppendCommand(ctx, "SUBSCRIBE %b", channel.data(), channel.size()) != REDIS_OK) {
    return conn_.ContextError("redis SUBSCRIBE");
  }
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx, &done) != REDIS_OK) return conn_.ContextError("redis SUBSCRIBE");
  }
  const absl::Time deadline = absl::Now() + kConfirmTimeout;
  while (true) {
    void* raw = nullptr;
    absl::Status s = ReadReply(deadline, &raw);
    if (!s.ok()) return s;
    ReplyPtr r(static_cast<redisReply*>(raw));
    if (r == nullptr) return absl::DeadlineExceededError("redis SUBSCRIBE: no confirmation");
    if (r->type == REDIS_REPLY_ERROR) return ReplyError("redis SUBSCRIBE", r.get());
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) continue;
    const std::string kind = ReplyString(r->element[0]);
    if (kind == "subscribe" && ReplyString(r->element[1]) == channel) return absl::OkStatus();
    if (kind == "message") {
      pending_.push_back({ReplyString(r->element[1]), ReplyString(r->element[2])});
    }
  }
}

absl::StatusOr<std::optional<RedisMessage>> RedisSubscriber::NextMessage(
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (pending_.empty()) {
    void* raw = nullptr;
    absl::Status s = ReadReply(deadline, &raw);
    if (!s.ok()) return s;
    ReplyPtr r(static_cast<redisReply*>(raw));
    if (r == nullptr) return std::optional<RedisMessage>();
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
        ReplyString(r->element[0]) == "message") {
      pending_.push_back({ReplyString(r->element[1]), ReplyString(r->element[2])});
    }
    // Anything else (late subscribe confirmations) carries no message.
  }
  RedisMessage m = std::move(pending_.front());
  pending_.pop_front();
  return std::optional<RedisMessage>(std::move(m));
}

absl::StatusOr<std::optional<std::string>> RedisSubscriber::Next(absl::Duration timeout) {
  auto m = NextMessage(timeout);
  if (!m.ok()) return m.status();
  if (!m->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(std::move((*m)->payload));
}

}  // namespace hai
