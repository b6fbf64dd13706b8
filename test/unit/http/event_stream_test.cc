// Server-sent-event streams on the side port's HTTP server (http_core.h) and the dashboard's
// hub (event_hub.h), over real loopback sockets: the head without a length, events sent
// from another thread arriving at once, a stream outliving request_timeout, a client
// closing its end closing the stream, the hub's bound, its coalesced change events and the
// change hook (run before each change event, its fields in the event, unset safely); and
// the dashboard's sessions (web_sessions.h) and cookie parsing.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "scheduler/http/dashboard.h"
#include "scheduler/http/event_hub.h"
#include "scheduler/http/http_core.h"
#include "scheduler/http/web_sessions.h"
#include "test/support/loopback.h"

namespace hai {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

void Send(int fd, const std::string& bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Reads from `fd` until `want` has arrived (true) or `timeout_ms` passes (false).
bool ReadUntil(int fd, const std::string& want, int timeout_ms, std::string* got) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (got->find(want) == std::string::npos) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - std::chrono::steady_clock::now())
                                          .count());
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return false;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    got->append(buf, static_cast<size_t>(n));
  }
  return true;
}

class StreamServer {
 public:
  // /events: a stream from `open`; anything else: a plain answer with an extra header.
  explicit StreamServer(std::function<http::Response()> open, http::ServerOptions options = {})
      : server_(
            options, [](const http::Request&) { return http::Lane::kControl; },
            [open](const http::Request& r) -> http::Response {
              if (r.path == "/events") return open();
              http::Response plain{200, "text/plain", "plain"};
              plain.headers.emplace_back("X-Test", "yes");
              return plain;
            }) {
    EXPECT_TRUE(server_.Start("127.0.0.1", 0).ok());
  }
  int Connect() { return ::hai::testing::ConnectLoopback(server_.port()); }
  http::Server& server() { return server_; }

 private:
  http::Server server_;
};

TEST(EventStreamTest, HeadThenEventsAsTheyAreSentThenClosedWhenTheClientLeaves) {
  std::shared_ptr<http::EventStream> stream;
  absl::Mutex mu;
  http::ServerOptions options;
  options.request_timeout = absl::Milliseconds(200);  // a stream must outlive it
  StreamServer s(
      [&] {
        auto st = std::make_shared<http::EventStream>();
        st->Send("event: hello\ndata: {}\n\n");  // before it is attached: kept
        absl::MutexLock lock(&mu);
        stream = st;
        http::Response r{200, "text/event-stream", ""};
        r.stream = st;
        return r;
      },
      options);
  const int fd = s.Connect();
  ASSERT_GE(fd, 0);
  Send(fd, "GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string got;
  ASSERT_TRUE(ReadUntil(fd, "event: hello", 2000, &got)) << got;
  EXPECT_THAT(got, HasSubstr("Content-Type: text/event-stream"));
  EXPECT_THAT(got, Not(HasSubstr("Content-Length")));
  std::shared_ptr<http::EventStream> st;
  {
    absl::MutexLock lock(&mu);
    st = stream;
  }
  ASSERT_NE(st, nullptr);
  // Past request_timeout the stream is still open and carries what is sent.
  absl::SleepFor(absl::Milliseconds(600));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(st->Send(absl::StrCat("event: change\ndata: ", i, "\n\n")));
    ASSERT_TRUE(ReadUntil(fd, absl::StrCat("data: ", i, "\n\n"), 2000, &got)) << got;
  }
  EXPECT_EQ(s.server().stats().timed_out, 0);
  // The client leaves: the stream is closed and Send says so.
  close(fd);
  const auto deadline = absl::Now() + absl::Seconds(5);
  while (!st->closed() && absl::Now() < deadline) {
    st->Send(": ping\n\n");
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(st->closed());
  EXPECT_FALSE(st->Send("late"));
}

TEST(EventStreamTest, PlainAnswersCarryExtraHeaders) {
  StreamServer s([] { return http::Response{}; });
  const int fd = s.Connect();
  Send(fd, "GET /x HTTP/1.1\r\n\r\n");
  std::string got;
  ASSERT_TRUE(ReadUntil(fd, "plain", 2000, &got)) << got;
  EXPECT_THAT(got, HasSubstr("\r\nX-Test: yes\r\n"));
  EXPECT_THAT(got, HasSubstr("Content-Length: 5"));
  close(fd);
}

TEST(EventStreamTest, AStreamNobodyReadsIsDroppedPastItsBacklog) {
  http::EventStream st;  // never attached: nothing takes what is sent
  const std::string chunk(64 * 1024, 'x');
  bool ok = true;
  for (size_t sent = 0; ok && sent <= 2 * http::kMaxStreamBacklog; sent += chunk.size()) {
    ok = st.Send(chunk);
  }
  EXPECT_TRUE(st.closed());
}

TEST(EventHubTest, RefusesStreamsPastItsBoundAndCoalescesChanges) {
  std::atomic<int64_t> last_pass_ms{0};
  EventHub hub(2, [&] { return absl::FromUnixMillis(last_pass_ms.load()); });
  hub.Start();
  StreamServer s([&] {
    auto st = hub.Open();
    if (!st.ok())
      return http::Response{503, "application/json", "{\"code\":\"RESOURCE_EXHAUSTED\"}"};
    http::Response r{200, "text/event-stream", ""};
    r.stream = *st;
    return r;
  });
  const int a = s.Connect(), b = s.Connect(), c = s.Connect();
  std::string got_a, got_b, got_c;
  Send(a, "GET /events HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(ReadUntil(a, "event: hello", 2000, &got_a));
  Send(b, "GET /events HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(ReadUntil(b, "event: hello", 2000, &got_b));
  Send(c, "GET /events HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(ReadUntil(c, "RESOURCE_EXHAUSTED", 2000, &got_c)) << got_c;
  EXPECT_THAT(got_c, HasSubstr("503"));
  EXPECT_EQ(hub.open_streams(), 2);

  // A burst of notifications: every stream hears of it, soon, in few events.
  for (int i = 0; i < 100; ++i) hub.Note(i % 2 == 0 ? "hai_attempts" : "hai_admin");
  ASSERT_TRUE(ReadUntil(a, "event: change", 2000, &got_a)) << got_a;
  ASSERT_TRUE(ReadUntil(b, "event: change", 2000, &got_b)) << got_b;
  absl::SleepFor(absl::Milliseconds(300));
  ReadUntil(a, "never", 100, &got_a);
  size_t changes = 0;
  for (size_t at = got_a.find("event: change"); at != std::string::npos;
       at = got_a.find("event: change", at + 1)) {
    ++changes;
  }
  EXPECT_LE(changes, 3u) << got_a;
  EXPECT_THAT(got_a, HasSubstr("\"admin\":true"));
  // The scheduler's next pass is announced once it has finished.
  last_pass_ms = absl::ToUnixMillis(absl::Now()) + 1000;
  EXPECT_TRUE(ReadUntil(a, "event: pass", 2000, &got_a)) << got_a;

  // A client leaving frees its place.
  close(a);
  const auto deadline = absl::Now() + absl::Seconds(5);
  while (hub.open_streams() > 1 && absl::Now() < deadline) {
    hub.Note("hai_attempts");
    absl::SleepFor(absl::Milliseconds(60));
  }
  EXPECT_EQ(hub.open_streams(), 1);
  EXPECT_TRUE(hub.Open().ok());
  hub.Stop();
  close(b);
  close(c);
}

TEST(EventHubTest, ChangeHookRunsBeforeEachChangeEventAndAddsItsFields) {
  EventHub hub(4, nullptr);
  std::atomic<int> calls{0}, watched_calls{0};
  hub.SetChangeHook([&](bool watched) -> std::string {
    ++calls;
    if (!watched) return "";
    ++watched_calls;
    return absl::StrCat(",\"nodes_version\":", 40 + watched_calls.load());
  });
  hub.Start();
  // Nobody watching: the hook still hears of the change (to mark its snapshot stale).
  hub.Note("hai_admin");
  const auto deadline = absl::Now() + absl::Seconds(5);
  while (calls.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(watched_calls.load(), 0);

  StreamServer s([&] {
    auto st = hub.Open();
    http::Response r{200, "text/event-stream", ""};
    if (st.ok()) r.stream = *st;
    return r;
  });
  const int a = s.Connect();
  std::string got;
  Send(a, "GET /events HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(ReadUntil(a, "event: hello", 2000, &got));
  hub.Note("hai_admin");
  ASSERT_TRUE(ReadUntil(a, "\"nodes_version\":41", 2000, &got)) << got;
  EXPECT_THAT(got, HasSubstr("\"admin\":true,\"attempts\":false,\"nodes_version\":41,"));
  // Unset: later events carry no hook fields (and the hook's owner may be gone).
  hub.SetChangeHook(nullptr);
  const size_t seen = got.size();
  absl::SleepFor(absl::Milliseconds(60));
  hub.Note("hai_attempts");
  ASSERT_TRUE(ReadUntil(a, "\"attempts\":true", 2000, &got)) << got;
  EXPECT_THAT(got.substr(seen), Not(HasSubstr("nodes_version")));
  EXPECT_EQ(watched_calls.load(), 1);
  hub.Stop();
  close(a);
}

TEST(WebSessionsTest, TokensByRandomIdUntilExpiryOrRemoval) {
  WebSessions sessions(absl::Hours(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000000);
  const std::string a = sessions.Create("token-a", t0);
  const std::string b = sessions.Create("token-b", t0);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_EQ(sessions.Token(a, t0 + absl::Minutes(59)), "token-a");
  EXPECT_EQ(sessions.Token(b, t0), "token-b");
  EXPECT_EQ(sessions.Token("", t0), std::nullopt);
  EXPECT_EQ(sessions.Token("token-a", t0), std::nullopt);  // the token is not an id
  EXPECT_EQ(sessions.Token(a, t0 + absl::Hours(1)), std::nullopt);
  sessions.Remove(b);
  EXPECT_EQ(sessions.Token(b, t0), std::nullopt);
}

TEST(WebSessionsTest, BoundedTheOldestGoesFirst) {
  WebSessions sessions(absl::Hours(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000000);
  const std::string first = sessions.Create("first", t0);
  for (size_t i = 1; i < kMaxWebSessions; ++i) sessions.Create("t", t0 + absl::Seconds(1));
  EXPECT_EQ(sessions.size(), kMaxWebSessions);
  const std::string last = sessions.Create("last", t0 + absl::Seconds(2));
  EXPECT_EQ(sessions.size(), kMaxWebSessions);
  EXPECT_EQ(sessions.Token(first, t0 + absl::Seconds(2)), std::nullopt);
  EXPECT_EQ(sessions.Token(last, t0 + absl::Seconds(2)), "last");
}

TEST(CookieValueTest, FindsTheNamedCookieOnly) {
  EXPECT_EQ(CookieValue("a=1; hai_session=abc; b=2", "hai_session"), "abc");
  EXPECT_EQ(CookieValue("hai_session=x", "hai_session"), "x");
  EXPECT_EQ(CookieValue("xhai_session=y; other=z", "hai_session"), "");
  EXPECT_EQ(CookieValue("", "hai_session"), "");
}

}  // namespace
}  // namespace hai
