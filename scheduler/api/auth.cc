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

class AuthCache {
 public:
  // The generation a lookup starts in: a row read before an invalidation is not stored.
  uint64_t generation() {
    absl::MutexLock lock(&mu_);
    return generation_;
  }
  bool Find(const std::string& hash, absl::Time now, store::User* out) {
    absl::MutexLock lock(&mu_);
    auto it = users_.find(hash);
    if (it == users_.end()) return false;
    if (now >= it->second.expires) {
      users_.erase(it);
      return false;
    }
    *out = it->second.user;
    return true;
  }
  void Put(const std::string& hash, const store::User& user, uint64_t generation, absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (generation != generation_) return;
    if (users_.size() >= kAuthCacheMaxEntries) users_.clear();
    users_[hash] = {user, now + kAuthCacheTtl};
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    ++generation_;
    users_.clear();
  }

 private:
  struct Entry {
    store::User user;
    absl::Time expires;
  };
  absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, Entry> users_ ABSL_GUARDED_BY(mu_);
};

AuthCache& Cache() {
  static AuthCache* cache = new AuthCache();
  return *cache;
}

}  // namespace

void InvalidateAuthCache() { Cache().Clear(); }

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
  const std::string hash = HashToken(token);
  const absl::Time now = absl::Now();
  store::User cached;
  absl::StatusOr<store::User> user;
  if (Cache().Find(hash, now, &cached)) {
    user = std::move(cached);
  } else {
    const uint64_t generation = Cache().generation();
    user = store.UserByTokenHash(hash);
    if (user.ok()) Cache().Put(hash, *user, generation, now);
  }
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
