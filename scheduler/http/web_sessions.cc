#include "scheduler/http/web_sessions.h"

#include <utility>

#include "common/auth.h"

namespace hai {

std::string WebSessions::Create(const std::string& token, absl::Time now) {
  std::string id = NewToken();
  absl::MutexLock lock(&mu_);
  if (by_hash_.size() >= kMaxWebSessions) {
    // Full: drop expired sessions, then the oldest.
    for (auto it = by_hash_.begin(); it != by_hash_.end();) {
      it = now - it->second.created >= ttl_ ? by_hash_.erase(it) : std::next(it);
    }
    if (by_hash_.size() >= kMaxWebSessions) {
      auto oldest = by_hash_.begin();
      for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
        if (it->second.created < oldest->second.created) oldest = it;
      }
      by_hash_.erase(oldest);
    }
  }
  by_hash_[HashToken(id)] = {token, now};
  return id;
}

std::optional<std::string> WebSessions::Token(const std::string& id, absl::Time now) {
  if (id.empty()) return std::nullopt;
  const std::string hash = HashToken(id);
  absl::MutexLock lock(&mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  if (now - it->second.created >= ttl_) {
    by_hash_.erase(it);
    return std::nullopt;
  }
  return it->second.token;
}

void WebSessions::Remove(const std::string& id) {
  const std::string hash = HashToken(id);
  absl::MutexLock lock(&mu_);
  by_hash_.erase(hash);
}

size_t WebSessions::size() const {
  absl::MutexLock lock(&mu_);
  return by_hash_.size();
}

}  // namespace hai
