#include "scheduler/events/redis_notifier.h"

#include <hiredis/hiredis.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hai {

RedisNotifier::RedisNotifier(std::string host, int port, std::string prefix)
    : host_(std::move(host)), port_(port), prefix_(std::move(prefix)) {}

RedisNotifier::~RedisNotifier() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

bool RedisNotifier::EnsureConnected() {
  if (ctx_ != nullptr && ctx_->err == 0) return true;
  if (ctx_ != nullptr) redisFree(ctx_);
  timeval timeout{0, 300000};
  ctx_ = redisConnectWithTimeout(host_.c_str(), port_, timeout);
  if (ctx_ == nullptr || ctx_->err != 0) {
    if (!warned_) {
      HAI_LOG(WARNING) << "Redis " << host_ << ":" << port_ << " unreachable ("
                       << (ctx_ ? ctx_->errstr : "no memory")
                       << "); managers will see requests on their next Postgres poll";
      warned_ = true;
    }
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = nullptr;
    return false;
  }
  redisSetTimeout(ctx_, timeout);
  warned_ = false;
  return true;
}

void RedisNotifier::NotifyManager(int64_t attempt_id, const std::string& command) {
  absl::MutexLock lock(&mu_);
  if (!EnsureConnected()) return;
  const std::string channel = absl::StrCat(prefix_, ":control:", attempt_id);
  auto* reply = static_cast<redisReply*>(
      redisCommand(ctx_, "PUBLISH %b %b", channel.data(), channel.size(), command.data(),
                   command.size()));
  if (reply != nullptr) freeReplyObject(reply);
}

}  // namespace hai
