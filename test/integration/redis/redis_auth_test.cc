// Redis AUTH (redis.password): against a real redis-server started with --requirepass, the
// right password publishes and subscribes; a wrong one, or none, is a typed Unauthenticated
// error, never a hang or a silent drop. haid's notifier and the manager's hints carry the
// password through to a delivered wake-up.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis.h"
#include "manager/control_hints.h"
#include "scheduler/events/redis_notifier.h"
#include "test/support/loopback.h"
#include "test/support/test_env.h"

namespace hai {
namespace {

constexpr char kPassword[] = "s3cret-for-test";
constexpr absl::Duration kTimeout = absl::Seconds(2);

class RedisAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::FreeLoopbackPort();
    dir_ = testing::MakeTempDir("hai-redis-auth-");
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--requirepass",
                                     kPassword,
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_};
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    ASSERT_GT(pid_, 0);
    // Ready once AUTH + PING answer.
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto c = RedisClient::Connect("127.0.0.1", port_, kTimeout, kPassword);
      if (c.ok() && (*c)->Ping().ok()) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "redis-server did not start on port " << port_;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
};

TEST_F(RedisAuthTest, RightPasswordPublishesAndSubscribes) {
  auto sub = RedisSubscriber::Connect("127.0.0.1", port_, kTimeout, kPassword);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Subscribe("t:control:1").ok());
  auto pub = RedisClient::Connect("127.0.0.1", port_, kTimeout, kPassword);
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto n = (*pub)->Publish("t:control:1", "stop");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  auto msg = (*sub)->Next(kTimeout);
  ASSERT_TRUE(msg.ok()) << msg.status();
  ASSERT_TRUE(msg->has_value());
  EXPECT_EQ(**msg, "stop");
}

TEST_F(RedisAuthTest, WrongPasswordIsUnauthenticatedAtConnect) {
  auto c = RedisClient::Connect("127.0.0.1", port_, kTimeout, "wrong");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << c.status();
  auto s = RedisSubscriber::Connect("127.0.0.1", port_, kTimeout, "wrong");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated) << s.status();
}

TEST_F(RedisAuthTest, MissingPasswordIsUnauthenticatedOnFirstCommand) {
  // The connection itself opens (Redis asks for AUTH only on a command).
  auto c = RedisClient::Connect("127.0.0.1", port_, kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Publish("t:x", "y").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*c)->Ping().code(), absl::StatusCode::kUnauthenticated);
  auto s = RedisSubscriber::Connect("127.0.0.1", port_, kTimeout);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->Subscribe("t:x").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(RedisAuthTest, NotifierWithThePasswordWakesTheManagersHints) {
  manager::RedisHints hints("127.0.0.1", port_, "t", 7, kPassword);
  hints.Wait(absl::Milliseconds(10));  // connects and subscribes; nothing to read yet
  RedisNotifier notifier("127.0.0.1", port_, "t", kPassword);
  notifier.NotifyManager(7, "stop");
  // Woken by the hint long before the 10 s poll would end.
  const absl::Time start = absl::Now();
  hints.Wait(absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(RedisAuthTest, NotifierWithAWrongPasswordDropsTheHintWithoutWaking) {
  auto sub = RedisSubscriber::Connect("127.0.0.1", port_, kTimeout, kPassword);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Subscribe("t:control:8").ok());
  RedisNotifier notifier("127.0.0.1", port_, "t", "wrong");
  notifier.NotifyManager(8, "stop");  // logged once; Postgres stays the truth
  auto msg = (*sub)->Next(absl::Milliseconds(300));
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_FALSE(msg->has_value());
}

}  // namespace
}  // namespace hai
