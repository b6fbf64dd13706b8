// The side port's HTTP server (scheduler/http/http_core.h) over real loopback sockets, with a
// trivial handler: bodies capped before anything reads them, probes answered while slow
// clients and a busy task-control lane hold every other resource, slow clients dropped,
// keep-alive, the connection cap and the full-queue answer.
#include "scheduler/http/http_core.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "test/support/loopback.h"

namespace hai::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ParseHeadTest, ParsesRequestLineHeadersAndKeepAlive) {
  Head h;
  ASSERT_EQ(ParseHead("POST /v1/task/7/go_suspend?x=1 HTTP/1.1\r\nHost: a\r\n"
                      "Authorization:  Bearer t \r\nContent-Length: 12",
                      100, &h),
            0);
  EXPECT_EQ(h.request.method, "POST");
  EXPECT_EQ(h.request.path, "/v1/task/7/go_suspend");
  EXPECT_EQ(h.request.query, "x=1");
  EXPECT_EQ(h.request.Header("authorization"), "Bearer t");
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_TRUE(h.keep_alive);
  ASSERT_EQ(ParseHead("GET / HTTP/1.1\r\nConnection: close", 100, &h), 0);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_EQ(ParseHead("GET / HTTP/1.0", 100, &h), 0);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_EQ(ParseHead("GET / HTTP/1.0\r\nConnection: Keep-Alive", 100, &h), 0);
  EXPECT_TRUE(h.keep_alive);
}

TEST(ParseHeadTest, RefusesWhatItCannotBound) {
  Head h;
  EXPECT_EQ(ParseHead("POST / HTTP/1.1\r\nContent-Length: 101", 100, &h), 413);
  EXPECT_EQ(ParseHead("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999", 100, &h), 400);
  EXPECT_EQ(ParseHead("POST / HTTP/1.1\r\nContent-Length: -1", 100, &h), 400);
  EXPECT_EQ(ParseHead("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2", 100, &h), 400);
  EXPECT_EQ(ParseHead("POST / HTTP/1.1\r\nTransfer-Encoding: chunked", 100, &h), 411);
  EXPECT_EQ(ParseHead("GET / HTTP/2.0", 100, &h), 505);
  EXPECT_EQ(ParseHead("GET /", 100, &h), 400);
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nno colon", 100, &h), 400);
}

void Send(int fd, const std::string& bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Reads one response (head and Content-Length body); "" on EOF or timeout first. `rest`
// keeps bytes past it (pipelined responses).
std::string ReadResponse(int fd, int timeout_ms, std::string* rest = nullptr) {
  std::string in = rest != nullptr ? *rest : "";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t length = 0;
      const size_t at = in.find("Content-Length: ");
      if (at != std::string::npos && at < end) {
        (void)absl::SimpleAtoi(in.substr(at + 16, in.find("\r\n", at) - at - 16), &length);
      }
      if (in.size() >= end + 4 + length) {
        if (rest != nullptr) *rest = in.substr(end + 4 + length);
        return in.substr(0, end + 4 + length);
      }
    }
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - std::chrono::steady_clock::now())
                                          .count());
    if (left <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return "";
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return "";
    in.append(buf, static_cast<size_t>(n));
  }
}

// True when the server closed `fd` within `timeout_ms`.
bool ClosedByServer(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[256];
  return recv(fd, buf, sizeof(buf), 0) <= 0;
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options) {
    server_ = std::make_unique<Server>(
        options,
        [](const Request& r) {
          if (r.path == "/healthz") return Lane::kInline;
          if (r.path == "/readyz") return Lane::kProbe;
          return Lane::kControl;
        },
        [this](const Request& r) -> Response {
          ++handled_;
          if (r.path == "/slow" || r.path == "/readyz") release_.WaitForNotification();
          return {200, "text/plain", absl::StrCat(r.method, " ", r.path, " ", r.body.size())};
        });
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
  }
  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
    for (int fd : fds_) close(fd);
    if (server_) server_->Stop();
  }
  int Open() {
    int fd = ::hai::testing::ConnectLoopback(server_->port());
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }

  std::unique_ptr<Server> server_;
  std::atomic<int> handled_{0};
  absl::Notification release_;
  std::vector<int> fds_;
};

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer({});
  int fd = Open();
  for (int i = 0; i < 5; ++i) {
    Send(fd, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_THAT(ReadResponse(fd, 2000), HasSubstr("POST /x 3"));
  }
  // Pipelined: two requests in one write, two answers in order.
  Send(fd, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  std::string rest;
  EXPECT_THAT(ReadResponse(fd, 2000, &rest), HasSubstr("GET /a 0"));
  EXPECT_THAT(ReadResponse(fd, 2000, &rest), HasSubstr("GET /b 0"));
  EXPECT_EQ(server_->stats().accepted, 1);
  Send(fd, "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(ReadResponse(fd, 2000), HasSubstr("Connection: close"));
  EXPECT_TRUE(ClosedByServer(fd, 2000));
}

TEST_F(ServerTest, OversizedBodyIsRefusedBeforeAnyOfItIsRead) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  StartServer(o);
  int fd = Open();
  // Declares 1 GiB and starts sending it: the refusal comes from the head alone.
  Send(fd, "POST /x HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n");
  Send(fd, std::string(64 * 1024, 'x'));
  std::string reply = ReadResponse(fd, 2000);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 413 "));
  EXPECT_THAT(reply, HasSubstr("larger than 1024 bytes"));
  EXPECT_TRUE(ClosedByServer(fd, 3000));
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(server_->stats().too_large, 1);

  // At the limit is fine; chunked bodies (no length to check up front) are refused.
  int ok = Open();
  Send(ok,
       absl::StrCat("POST /x HTTP/1.1\r\nContent-Length: 1024\r\n\r\n", std::string(1024, 'y')));
  EXPECT_THAT(ReadResponse(ok, 2000), HasSubstr("POST /x 1024"));
  int chunked = Open();
  Send(chunked, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  EXPECT_THAT(ReadResponse(chunked, 2000), StartsWith("HTTP/1.1 411 "));
  int big_head = Open();
  Send(big_head, absl::StrCat("GET /x HTTP/1.1\r\nX: ", std::string(20000, 'h')));
  EXPECT_THAT(ReadResponse(big_head, 2000), StartsWith("HTTP/1.1 431 "));
}

TEST_F(ServerTest, ProbesAnswerWhileSlowClientsAndBusyTaskControlHoldEverythingElse) {
  ServerOptions o;
  o.workers = 2;
  StartServer(o);
  // Every task-control thread is stuck in a handler...
  for (int i = 0; i < 2; ++i) Send(Open(), "GET /slow HTTP/1.1\r\n\r\n");
  // ...and 200 clients hold connections with requests that never finish.
  for (int i = 0; i < 200; ++i) Send(Open(), "GET /v1/task/1/suspend HTTP/1.1\r\nHost: a");
  const auto start = std::chrono::steady_clock::now();
  int probe = Open();
  Send(probe, "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadResponse(probe, 1000), StartsWith("HTTP/1.1 200 "));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(ServerTest, InlineHealthzAnswersWhileTheProbeThreadIsStuck) {
  StartServer({});
  int stuck = Open();
  Send(stuck, "GET /readyz HTTP/1.1\r\n\r\n");  // e.g. waiting on Postgres
  int queued = Open();
  Send(queued, "GET /readyz HTTP/1.1\r\n\r\n");
  int probe = Open();
  Send(probe, "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadResponse(probe, 1000), StartsWith("HTTP/1.1 200 "));
  EXPECT_EQ(ReadResponse(stuck, 100), "");
  release_.Notify();
  EXPECT_THAT(ReadResponse(stuck, 2000), StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(ReadResponse(queued, 2000), StartsWith("HTTP/1.1 200 "));
}

TEST_F(ServerTest, OutOfDescriptorsDropsTheOldestUnfinishedInsteadOfSpinning) {
  StartServer({});
  // Client sockets first (this process is both sides), then a descriptor limit that leaves
  // the server room for only a few of their connections.
  std::vector<int> clients;
  for (int i = 0; i < 12; ++i) clients.push_back(socket(AF_INET, SOCK_STREAM, 0));
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  fds_.insert(fds_.end(), clients.begin(), clients.end());
  fds_.push_back(probe);
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) highest = fd;
  }
  // Fill the gaps below it (the kernel hands out the lowest free number).
  while (true) {
    int d = dup(probe);
    if (d > highest) {
      close(d);
      break;
    }
    fds_.push_back(d);
  }
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(highest + 1 + 4);  // 4 more descriptors
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : clients) {
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Send(probe, "GET /healthz HTTP/1.1\r\n\r\n");
  const std::string reply = ReadResponse(probe, 2000);
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200 "));
  EXPECT_GE(server_->stats().evicted, 8);
  EXPECT_TRUE(ClosedByServer(clients[0], 1000));
}

TEST_F(ServerTest, HeadGetsHeadersOnlyAndExpectContinueIsAnswered) {
  StartServer({});
  int fd = Open();
  Send(fd, "HEAD /x HTTP/1.1\r\n\r\n");
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (in.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    char buf[512];
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
  }
  EXPECT_THAT(in, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(in, HasSubstr("Content-Length: 9\r\n"));  // "HEAD /x 0"'s length, no body
  EXPECT_EQ(in.substr(in.find("\r\n\r\n") + 4), "");
  // The connection goes on with the next request.
  Send(fd, "GET /y HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadResponse(fd, 2000), HasSubstr("GET /y 0"));

  // curl's Expect: 100-continue: told to go on, then answered.
  int expect = Open();
  Send(expect, "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(ReadResponse(expect, 2000), "HTTP/1.1 100 Continue\r\n\r\n");
  Send(expect, "hello");
  EXPECT_THAT(ReadResponse(expect, 2000), HasSubstr("POST /x 5"));
}

TEST_F(ServerTest, SlowAndIdleClientsAreDropped) {
  ServerOptions o;
  o.request_timeout = absl::Milliseconds(300);
  o.idle_timeout = absl::Milliseconds(600);
  StartServer(o);
  int silent = Open();
  int partial = Open();
  Send(partial, "GET /x HTTP/1.1\r\nHost:");
  int body = Open();
  Send(body, "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  int idle = Open();
  Send(idle, "GET /x HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadResponse(idle, 1000), StartsWith("HTTP/1.1 200 "));
  EXPECT_TRUE(ClosedByServer(silent, 2000));
  EXPECT_TRUE(ClosedByServer(partial, 2000));
  EXPECT_TRUE(ClosedByServer(body, 2000));
  EXPECT_TRUE(ClosedByServer(idle, 2000));
  EXPECT_GE(server_->stats().timed_out, 3);
}

TEST_F(ServerTest, PastTheConnectionCapTheOldestUnfinishedIsDropped) {
  ServerOptions o;
  o.max_connections = 4;
  StartServer(o);
  std::vector<int> silent;
  for (int i = 0; i < 4; ++i) {
    silent.push_back(Open());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int probe = Open();
  Send(probe, "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadResponse(probe, 1000), StartsWith("HTTP/1.1 200 "));
  EXPECT_TRUE(ClosedByServer(silent[0], 1000));
  EXPECT_FALSE(ClosedByServer(silent[3], 100));
  EXPECT_EQ(server_->stats().evicted, 1);
}

TEST_F(ServerTest, FullTaskControlQueueAnswers503) {
  ServerOptions o;
  o.workers = 1;
  o.queue_per_worker = 1;
  StartServer(o);
  int busy = Open();
  Send(busy, "GET /slow HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the worker takes it
  int queued = Open();
  Send(queued, "GET /slow HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int refused = Open();
  Send(refused, "GET /slow HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadResponse(refused, 1000), StartsWith("HTTP/1.1 503 "));
  int probe = Open();
  Send(probe, "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadResponse(probe, 1000), StartsWith("HTTP/1.1 200 "));
  release_.Notify();
  EXPECT_THAT(ReadResponse(busy, 2000), StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(ReadResponse(queued, 2000), StartsWith("HTTP/1.1 200 "));
  EXPECT_EQ(server_->stats().overloaded, 1);
}

}  // namespace
}  // namespace hai::http
