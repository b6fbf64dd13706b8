// Dashboard sign-in sessions: a user POSTs their token once and gets a random session id in
// an HttpOnly, SameSite=Strict cookie; the token itself stays in haid's memory only (never in
// a URL, a log line or the browser's script-visible storage). Every request made with the
// session is authorized afresh with that token by the gRPC API (a disabled user or a rotated
// token is refused at once, as on the CLI). Bounded: at most kMaxWebSessions live sessions
// (the oldest is dropped past it), each for at most the TTL given. Thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hai {

inline constexpr size_t kMaxWebSessions = 10000;

class WebSessions {
 public:
  explicit WebSessions(absl::Duration ttl) : ttl_(ttl) {}
  // A new session for `token`: its id (64 hex characters from the OS CSPRNG).
  std::string Create(const std::string& token, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // The token of a live session; nullopt when unknown or expired.
  std::optional<std::string> Token(const std::string& id, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::string token;
    absl::Time created;
  };
  const absl::Duration ttl_;
  mutable absl::Mutex mu_;
  // Keyed by the id's SHA-256, so a timing side channel on the map reveals no live id.
  std::map<std::string, Entry> by_hash_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hai
