// Redis wake-ups; see control_hints.h.
#include "manager/control_hints.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace hai::manager {
namespace {
constexpr absl::Duration kConnectTimeout = absl::Seconds(1);
constexpr absl::Duration kRetryEvery = absl::Seconds(5);
}  // namespace

RedisHints::RedisHints(std::string host, int port, std::string prefix, int64_t attempt_id,
                       std::string password)
    : host_(std::move(host)),
      port_(port),
      prefix_(std::move(prefix)),
      attempt_id_(attempt_id),
      password_(std::move(password)) {}

bool RedisHints::MayRetry() {
  const absl::Time now = absl::Now();
  if (now < next_retry_) return false;
  next_retry_ = now + kRetryEvery;
  return true;
}

void RedisHints::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (sub_ == nullptr && MayRetry()) {
    auto sub = RedisSubscriber::Connect(host_, port_, kConnectTimeout, password_);
    if (sub.ok()) {
      absl::Status s = (*sub)->Subscribe(absl::StrCat(prefix_, ":control:", attempt_id_));
      if (s.ok()) {
        sub_ = std::move(sub).value();
      } else {
        HAI_LOG(WARNING) << "redis subscribe: " << s;
      }
    } else {
      HAI_LOG(WARNING) << "redis unavailable (control hints off): " << sub.status();
    }
  }
  if (sub_ != nullptr) {
    auto msg = sub_->Next(deadline - absl::Now());
    if (msg.ok()) {
      if (msg->has_value()) {
        HAI_LOG(INFO) << "control hint: " << **msg;
      }
      return;
    }
    HAI_LOG(WARNING) << "redis: " << msg.status();
    sub_.reset();
  }
  const absl::Duration left = deadline - absl::Now();
  if (left > absl::ZeroDuration()) absl::SleepFor(left);
}

}  // namespace hai::manager
