#include "scheduler/events/redis_notifier.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hai {
namespace {
constexpr absl::Duration kTimeout = absl::Milliseconds(300);
}  // namespace

RedisNotifier::RedisNotifier(std::string host, int port, std::string prefix, std::string password)
    : host_(std::move(host)),
      port_(port),
      prefix_(std::move(prefix)),
      password_(std::move(password)) {}

RedisNotifier::~RedisNotifier() = default;

bool RedisNotifier::EnsureConnected() {
  if (client_ != nullptr) return true;
  auto client = RedisClient::Connect(host_, port_, kTimeout, password_);
  if (!client.ok()) {
    if (!warned_) {
      HAI_LOG(WARNING) << "Redis " << host_ << ":" << port_ << " unusable (" << client.status()
                       << "); managers will see requests on their next Postgres poll";
      warned_ = true;
    }
    return false;
  }
  client_ = std::move(client).value();
  warned_ = false;
  return true;
}

void RedisNotifier::NotifyManager(int64_t attempt_id, const std::string& command) {
  absl::MutexLock lock(&mu_);
  if (!EnsureConnected()) return;
  const std::string channel = absl::StrCat(prefix_, ":control:", attempt_id);
  // Any failure drops the connection; the next hint reconnects (and Postgres stays the truth).
  if (!client_->Publish(channel, command).ok()) client_.reset();
}

}  // namespace hai
