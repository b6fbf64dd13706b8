// The authentication cache in front of the token lookup (scheduler/api/auth.h), with a
// counting lookup in place of Postgres: known users and unknown tokens each cost one lookup
// per window, an invalidation (a hai_admin notification) forgets both.
#include "scheduler/api/auth.h"

#include <string>

#include <gtest/gtest.h>

#include "common/auth.h"

namespace hai::api {
namespace {

class AuthCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetUnknownTokenTtl(absl::Seconds(5));
    InvalidateAuthCache();
  }
  absl::StatusOr<store::User> Lookup(const std::string& token, absl::Time now) {
    return LookupToken(token, now, [this](const std::string& hash) -> absl::StatusOr<store::User> {
      ++lookups_;
      if (hash == HashToken("good-token")) {
        store::User u;
        u.name = "alice";
        u.active = true;
        return u;
      }
      return absl::NotFoundError("no such token");
    });
  }
  int lookups_ = 0;
  const absl::Time t0_ = absl::FromUnixSeconds(1'700'000'000);
};

TEST_F(AuthCacheTest, RepeatedUnknownTokenCostsOneLookupPerWindow) {
  // 1,000 calls with the same bad token within 5 s: one lookup, every call refused.
  for (int i = 0; i < 1000; ++i) {
    auto r = Lookup("bad-token", t0_ + absl::Milliseconds(i));
    ASSERT_TRUE(absl::IsNotFound(r.status())) << r.status();
  }
  EXPECT_EQ(lookups_, 1);
  // The window over: looked up again (once).
  EXPECT_TRUE(absl::IsNotFound(Lookup("bad-token", t0_ + absl::Seconds(5)).status()));
  EXPECT_TRUE(absl::IsNotFound(Lookup("bad-token", t0_ + absl::Seconds(6)).status()));
  EXPECT_EQ(lookups_, 2);
}

TEST_F(AuthCacheTest, InvalidationForgetsUnknownTokens) {
  // A token unknown a moment ago works as soon as its user's notification emptied the cache.
  EXPECT_TRUE(absl::IsNotFound(Lookup("bad-token", t0_).status()));
  InvalidateAuthCache();
  EXPECT_TRUE(absl::IsNotFound(Lookup("bad-token", t0_).status()));
  EXPECT_EQ(lookups_, 2);
}

TEST_F(AuthCacheTest, KnownUserCachedAndErrorsNot) {
  for (int i = 0; i < 10; ++i) {
    auto r = Lookup("good-token", t0_);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->name, "alice");
  }
  EXPECT_EQ(lookups_, 1);
  // A failing lookup (Postgres down) is not remembered as "unknown".
  int failures = 0;
  auto failing = [&](const std::string&) -> absl::StatusOr<store::User> {
    ++failures;
    return absl::UnavailableError("db down");
  };
  EXPECT_TRUE(absl::IsUnavailable(LookupToken("other", t0_, failing).status()));
  EXPECT_TRUE(absl::IsUnavailable(LookupToken("other", t0_, failing).status()));
  EXPECT_EQ(failures, 2);
}

TEST_F(AuthCacheTest, ZeroTtlTurnsTheNegativeCacheOff) {
  SetUnknownTokenTtl(absl::ZeroDuration());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Lookup("bad-token", t0_).ok());
  EXPECT_EQ(lookups_, 3);
}

}  // namespace
}  // namespace hai::api
