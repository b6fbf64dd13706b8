#include "scheduler/api/auth.h"

#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/auth.h"

namespace hai::api {
namespace {

// How long a cached user is trusted without a notification having emptied the cache: a
// backstop for an edit whose notification was lost, not the way edits take effect.
constexpr absl::Duration kAuthCacheTtl = absl::Seconds(5);
constexpr size_t kAuthCacheMaxEntries = 10000;
// Unknown tokens are kept apart, so a flood of random tokens cannot evict the known users.
constexpr size_t kUnknownTokensMaxEntries = 10000;

class AuthCache {
 public:
  enum class Hit { kMiss, kUser, kUnknown };

  // The generation a lookup starts in: a row read before an invalidation is not stored.
  uint64_t generation() {
    absl::MutexLock lock(&mu_);
    return generation_;
  }
  Hit Find(const std::string& hash, absl::Time now, store::User* out) {
    absl::MutexLock lock(&mu_);
    if (auto it = users_.find(hash); it != users_.end()) {
      if (now < it->second.expires) {
        *out = it->second.user;
        return Hit::kUser;
      }
      users_.erase(it);
    }
    if (auto it = unknown_.find(hash); it != unknown_.end()) {
      if (now < it->second) return Hit::kUnknown;
      unknown_.erase(it);
    }
    return Hit::kMiss;
  }
  void Put(const std::string& hash, const store::User& user, uint64_t generation, absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (generation != generation_) return;
    if (users_.size() >= kAuthCacheMaxEntries) users_.clear();
    users_[hash] = {user, now + kAuthCacheTtl};
  }
  void PutUnknown(const std::string& hash, uint64_t generation, absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (generation != generation_ || unknown_ttl_ <= absl::ZeroDuration()) return;
    if (unknown_.size() >= kUnknownTokensMaxEntries) unknown_.clear();
    unknown_[hash] = now + unknown_ttl_;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    ++generation_;
    users_.clear();
    unknown_.clear();
  }
  void SetUnknownTtl(absl::Duration ttl) {
    absl::MutexLock lock(&mu_);
    unknown_ttl_ = ttl;
    unknown_.clear();
  }

 private:
  struct Entry {
    store::User user;
    absl::Time expires;
  };
  absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, Entry> users_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, absl::Time> unknown_ ABSL_GUARDED_BY(mu_);  // -> expiry
  absl::Duration unknown_ttl_ ABSL_GUARDED_BY(mu_) = absl::Seconds(5);
};

AuthCache& Cache() {
  static AuthCache* cache = new AuthCache();
  return *cache;
}

}  // namespace

void InvalidateAuthCache() { Cache().Clear(); }

void SetUnknownTokenTtl(absl::Duration ttl) { Cache().SetUnknownTtl(ttl); }

absl::StatusOr<store::User> LookupToken(const std::string& token, absl::Time now,
                                        const TokenLookup& lookup) {
  const std::string hash = HashToken(token);
  store::User cached;
  switch (Cache().Find(hash, now, &cached)) {
    case AuthCache::Hit::kUser: return cached;
    case AuthCache::Hit::kUnknown: return absl::NotFoundError("unknown token");
    case AuthCache::Hit::kMiss: break;
  }
  const uint64_t generation = Cache().generation();
  absl::StatusOr<store::User> user = lookup(hash);
  if (user.ok()) {
    Cache().Put(hash, *user, generation, now);
  } else if (absl::IsNotFound(user.status())) {
    Cache().PutUnknown(hash, generation, now);
  }
  return user;
}

absl::StatusOr<store::User> Authenticate(const grpc::ServerContext& context, store::Store& store) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError("no token: run `hai-cli init TOKEN --url HOST:PORT` first");
  }
  std::string token = BearerToken(std::string_view(it->second.data(), it->second.size()));
  if (token.empty()) {
    return absl::UnauthenticatedError("authorization metadata must be 'Bearer <token>'");
  }
  absl::StatusOr<store::User> user =
      LookupToken(token, absl::Now(),
                  [&store](const std::string& hash) { return store.UserByTokenHash(hash); });
  if (absl::IsNotFound(user.status())) {
    return absl::UnauthenticatedError(
        "unknown token: ask an admin for a valid one and run `hai-cli init TOKEN`");
  }
  if (!user.ok()) return user.status();
  if (!user->active) {
    return absl::PermissionDeniedError(absl::StrCat("user ", user->name, " is disabled"));
  }
  return user;
}

}  // namespace hai::api
