#include "scheduler/http/http_core.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace hai::http {
namespace {

constexpr uint64_t kListenId = 1;
constexpr uint64_t kWakeId = 2;
// After refusing a request whose body is still arriving, the socket is half-closed and the
// body drained for at most this long / this much, so the client reads the refusal instead of
// a reset; then it is closed.
constexpr absl::Duration kLinger = absl::Seconds(1);
constexpr size_t kLingerBytes = 8 << 20;
// The first byte of every TLS connection: a handshake record.
constexpr unsigned char kTlsHandshakeRecord = 0x16;

std::string TlsError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

absl::StatusOr<SSL_CTX*> LoadTls(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + TlsError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // A send may stop part way (EAGAIN) and resume from a later offset of the same buffer.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  std::string why;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    why = absl::StrCat("cannot load TLS certificate ", cert_file, ": ", TlsError());
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    why = absl::StrCat("cannot load TLS key ", key_file, ": ", TlsError());
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    why = absl::StrCat("TLS key ", key_file, " does not match ", cert_file);
  }
  if (!why.empty()) {
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(why);
  }
  return ctx;
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

}  // namespace

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

int ParseHead(absl::string_view head, size_t max_body, Head* out) {
  *out = Head();
  size_t eol = head.find("\r\n");
  absl::string_view line = head.substr(0, eol);
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[1][0] != '/') {
    return 400;
  }
  Request& r = out->request;
  r.method = std::string(parts[0]);
  const size_t q = parts[1].find('?');
  r.path = std::string(parts[1].substr(0, q));
  if (q != absl::string_view::npos) r.query = std::string(parts[1].substr(q + 1));
  bool http10 = false;
  if (parts[2] == "HTTP/1.0") {
    http10 = true;
  } else if (parts[2] != "HTTP/1.1") {
    return absl::StartsWith(parts[2], "HTTP/") ? 505 : 400;
  }
  bool have_length = false;
  while (eol != absl::string_view::npos) {
    const size_t start = eol + 2;
    eol = head.find("\r\n", start);
    absl::string_view h = head.substr(start, eol == absl::string_view::npos ? eol : eol - start);
    if (h.empty()) continue;
    const size_t colon = h.find(':');
    if (colon == absl::string_view::npos || colon == 0) return 400;
    std::string name = absl::AsciiStrToLower(h.substr(0, colon));
    if (name.find_first_of(" \t") != std::string::npos) return 400;
    std::string value(absl::StripAsciiWhitespace(h.substr(colon + 1)));
    if (name == "content-length") {
      uint64_t n = 0;
      if (value.empty() || value.size() > 19 ||
          value.find_first_not_of("0123456789") != std::string::npos ||
          !absl::SimpleAtoi(value, &n) || (have_length && n != out->content_length)) {
        return 400;
      }
      have_length = true;
      // Refused on the declared length alone: nothing of the body is read.
      if (n > max_body) return 413;
      out->content_length = n;
    }
    if (name == "transfer-encoding") return 411;
    auto [it, inserted] = r.headers.emplace(name, value);
    if (!inserted) absl::StrAppend(&it->second, ", ", value);
  }
  const std::string conn = absl::AsciiStrToLower(r.Header("connection"));
  out->keep_alive = http10 ? conn == "keep-alive" : conn != "close";
  return 0;
}

std::string Serialize(const Response& response, bool keep_alive, bool head_only) {
  std::string extra;
  for (const auto& [name, value] : response.headers)
    absl::StrAppend(&extra, "\r\n", name, ": ", value);
  if (response.stream != nullptr) {
    // An event stream: no length, the body lasts until the connection closes.
    return absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                        "\r\nContent-Type: ", response.content_type, "\r\nCache-Control: no-store",
                        extra, "\r\nConnection: close\r\n\r\n");
  }
  return absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                      "\r\nContent-Type: ", response.content_type,
                      "\r\nContent-Length: ", response.body.size(), extra,
                      keep_alive ? "" : "\r\nConnection: close", "\r\n\r\n",
                      head_only ? absl::string_view() : absl::string_view(response.body));
}

bool EventStream::Send(absl::string_view bytes) {
  std::function<void()> wake;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    const bool was_empty = pending_.empty();
    if (pending_.size() + bytes.size() > kMaxStreamBacklog) {
      // The event thread has not taken what is queued: the client is stuck. Drop it.
      closed_ = true;
      pending_.clear();
      if (attached_) wake = wake_;
    } else {
      pending_.append(bytes.data(), bytes.size());
      if (was_empty && attached_) wake = wake_;
    }
  }
  if (wake) wake();
  return true;
}

bool EventStream::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void EventStream::Attach(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  attached_ = true;
  wake_ = std::move(wake);
}

void EventStream::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  attached_ = false;
  wake_ = nullptr;
  pending_.clear();
}

std::string EventStream::Take() {
  absl::MutexLock lock(&mu_);
  return std::exchange(pending_, std::string());
}

struct Server::Conn {
  enum class State { kHandshake, kHead, kBody, kBusy, kWrite, kLinger, kStream };
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;  // TLS on: created once the first byte shows a TLS client
  State state = State::kHead;
  std::string in;                // received, not yet consumed
  Head head;                     // the request whose body is being read
  bool request_started = false;  // a byte of the current request has arrived
  absl::Time since;              // start of the current wait (eviction order)
  absl::Time deadline;
  std::string out;
  size_t out_off = 0;
  bool keep_alive = true;
  bool linger = false;
  size_t lingered = 0;
  uint32_t events = 0;
  bool registered = false;  // added to the epoll set
  int64_t requests = 0;     // dispatched on this connection
  std::shared_ptr<EventStream> stream;  // kStream
};

bool Server::Queue::Push(Job job) {
  absl::MutexLock lock(&mu_);
  if (stopped_ || jobs_.size() >= cap_) return false;
  jobs_.push_back(std::move(job));
  return true;
}

bool Server::Queue::Pop(Job* job) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &Queue::Ready));
  if (stopped_) return false;
  *job = std::move(jobs_.front());
  jobs_.pop_front();
  return true;
}

void Server::Queue::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

Server::Server(ServerOptions options, std::function<Lane(const Request&)> lane_of, Handler handler)
    : options_(options),
      lane_of_(std::move(lane_of)),
      handler_(std::move(handler)),
      probe_queue_(64),
      control_queue_(static_cast<size_t>(options.workers) * options.queue_per_worker) {}

Server::~Server() {
  Stop();
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

absl::Status Server::Start(const std::string& host, int port) {
  if (!options_.tls_cert_file.empty() && tls_ == nullptr) {
    absl::StatusOr<SSL_CTX*> ctx = LoadTls(options_.tls_cert_file, options_.tls_key_file);
    if (!ctx.ok()) return ctx.status();
    tls_ = *ctx;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res) != 0 ||
      res == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host));
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool ok = fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) == 0 && listen(fd, 1024) == 0;
  freeaddrinfo(res);
  if (!ok) {
    const std::string err = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port, ": ", err));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  listen_fd_ = fd;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenId;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeId;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  loop_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "hai-http");
    Loop();
  });
  workers_.emplace_back([this] {
    pthread_setname_np(pthread_self(), "hai-http-probe");
    Work(&probe_queue_);
  });
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "hai-http-task");
      Work(&control_queue_);
    });
  }
  return absl::OkStatus();
}

void Server::Stop() {
  if (!loop_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  loop_.join();
  probe_queue_.Stop();
  control_queue_.Stop();
  for (auto& t : workers_) t.join();
  workers_.clear();
  close(listen_fd_);
  close(epoll_fd_);
  close(wake_fd_);
  listen_fd_ = epoll_fd_ = wake_fd_ = -1;
}

Server::Stats Server::stats() const {
  return {accepted_.load(), too_large_.load(),  timed_out_.load(),
          evicted_.load(),  overloaded_.load(), tls_failed_.load()};
}

void Server::Work(Queue* queue) {
  Job job;
  while (queue->Pop(&job)) {
    Response response;
    try {
      response = handler_(job.request);
    } catch (const std::exception& e) {
      response = {500, "text/plain", absl::StrCat("internal error: ", e.what(), "\n")};
    }
    {
      absl::MutexLock lock(&done_mu_);
      done_.push_back({job.conn_id, job.keep_alive,
                       Serialize(response, job.keep_alive, job.request.method == "HEAD"),
                       std::move(response.stream)});
    }
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

void Server::Loop() {
  epoll_event events[256];
  absl::Time next_sweep = absl::Now();
  while (!stopping_) {
    const int n = epoll_wait(epoll_fd_, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kListenId) {
        Accept();
        continue;
      }
      if (id == kWakeId) {
        uint64_t v;
        (void)!read(wake_fd_, &v, sizeof(v));
        DrainDone();
        FlushStreams();
        continue;
      }
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      const uint32_t ev = events[i].events;
      if (c.state == Conn::State::kHandshake) {
        OnHandshake(c);
      } else if (c.state == Conn::State::kBusy) {
        // Only hang-ups and errors are reported while a request is answered: the client is
        // gone, and its answer is dropped.
        if (ev & (EPOLLHUP | EPOLLERR)) Close(id);
      } else if (c.state == Conn::State::kWrite) {
        if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) OnWritable(c);
      } else if (c.state == Conn::State::kStream) {
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          OnReadable(c);  // drops input; closes on EOF
          if (conns_.find(id) == conns_.end()) continue;
        }
        if (ev & EPOLLOUT) OnWritable(c);
      } else if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        OnReadable(c);
      }
    }
    const absl::Time now = absl::Now();
    if (now >= next_sweep) {
      Sweep();
      next_sweep = now + absl::Milliseconds(100);
    }
  }
  for (auto& [id, c] : conns_) {
    if (c->stream != nullptr) c->stream->Close();
    if (c->ssl != nullptr) SSL_free(c->ssl);
    close(c->fd);
  }
  conns_.clear();
}

bool Server::EvictOldestUnfinished() {
  // The connection that has waited longest without a complete request (busy ones have a
  // request being answered and stay).
  Conn* victim = nullptr;
  for (auto& [id, c] : conns_) {
    if (c->state != Conn::State::kHead && c->state != Conn::State::kBody &&
        c->state != Conn::State::kLinger && c->state != Conn::State::kHandshake) {
      continue;
    }
    if (victim == nullptr || c->since < victim->since) victim = c.get();
  }
  if (victim == nullptr) return false;
  ++evicted_;
  Close(victim->id);
  return true;
}

void Server::Accept() {
  while (true) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && EvictOldestUnfinished()) continue;
      if (errno != EAGAIN) {
        // Out of descriptors with nothing to drop: stop watching the listening socket (it
        // would stay readable and spin this loop) until the next sweep.
        epoll_event ev{};
        ev.data.u64 = kListenId;
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
        listen_paused_ = true;
      }
      return;
    }
    ++accepted_;
    if (static_cast<int>(conns_.size()) >= options_.max_connections && !EvictOldestUnfinished()) {
      close(fd);
      ++evicted_;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    c->since = absl::Now();
    // A new connection's first request must arrive within request_timeout.
    c->deadline = c->since + options_.request_timeout;
    if (tls_ != nullptr) c->state = Conn::State::kHandshake;
    Conn& ref = *c;
    conns_.emplace(c->id, std::move(c));
    Watch(ref, EPOLLIN);
  }
}

void Server::Watch(Conn& c, uint32_t events) {
  if (c.registered && c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  epoll_ctl(epoll_fd_, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
  c.registered = true;
  c.events = events;
}

void Server::Close(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second->fd, nullptr);
  if (it->second->stream != nullptr) it->second->stream->Close();
  if (it->second->ssl != nullptr) SSL_free(it->second->ssl);
  close(it->second->fd);
  conns_.erase(it);
}

void Server::OnHandshake(Conn& c) {
  const uint64_t id = c.id;
  if (c.ssl == nullptr) {
    unsigned char first = 0;
    const ssize_t n = recv(c.fd, &first, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return Close(id);
    if (first != kTlsHandshakeRecord) {
      // Plain HTTP (or anything else) on the TLS port: say so in plaintext, then close.
      ++tls_failed_;
      c.state = Conn::State::kHead;
      return Refuse(c, 400, "this port speaks TLS: use https://");
    }
    c.ssl = SSL_new(tls_);
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, c.fd) != 1) {
      ++tls_failed_;
      return Close(id);
    }
    SSL_set_accept_state(c.ssl);
  }
  const int r = SSL_do_handshake(c.ssl);
  if (r == 1) {
    c.state = Conn::State::kHead;
    Watch(c, EPOLLIN);
    return OnReadable(c);  // the first request may have come with the handshake's end
  }
  switch (SSL_get_error(c.ssl, r)) {
    case SSL_ERROR_WANT_READ: return Watch(c, EPOLLIN);
    case SSL_ERROR_WANT_WRITE: return Watch(c, EPOLLOUT);
    default:
      // e.g. the client rejected our certificate (an alert), or spoke garbage.
      ERR_clear_error();
      ++tls_failed_;
      return Close(id);
  }
}

ssize_t Server::Recv(Conn& c, char* buf, size_t n) {
  if (c.ssl == nullptr) return read(c.fd, buf, n);
  const int r = SSL_read(c.ssl, buf, static_cast<int>(std::min<size_t>(n, INT32_MAX)));
  if (r > 0) return r;
  const int err = SSL_get_error(c.ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    // TLS 1.3 post-handshake messages need no write we would wait for: a reply waits for
    // the client's next bytes like any other read.
    errno = EAGAIN;
    return -1;
  }
  ERR_clear_error();
  if (err == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
  errno = ECONNRESET;
  return -1;
}

ssize_t Server::Send(Conn& c, const char* buf, size_t n) {
  if (c.ssl == nullptr) return send(c.fd, buf, n, MSG_NOSIGNAL);
  const int r = SSL_write(c.ssl, buf, static_cast<int>(std::min<size_t>(n, INT32_MAX)));
  if (r > 0) return r;
  const int err = SSL_get_error(c.ssl, r);
  if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
    errno = EAGAIN;
    return -1;
  }
  ERR_clear_error();
  errno = ECONNRESET;
  return -1;
}

void Server::OnReadable(Conn& c) {
  char buf[16384];
  const uint64_t id = c.id;
  if (c.state == Conn::State::kLinger || c.state == Conn::State::kStream) {
    const bool stream = c.state == Conn::State::kStream;
    while (true) {
      // A lingering TLS connection was shut down: its bytes are dropped undecrypted. A
      // stream's are decrypted (and dropped), so TLS sees the client's close_notify.
      ssize_t n = stream ? Recv(c, buf, sizeof(buf)) : read(c.fd, buf, sizeof(buf));
      if (n > 0) {
        if (stream) continue;  // a stream's client has nothing to say: drop it
        c.lingered += static_cast<size_t>(n);
        if (c.lingered > kLingerBytes) return Close(id);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      return Close(id);
    }
  }
  if (c.state != Conn::State::kHead && c.state != Conn::State::kBody) return;
  // Never hold more than one head plus one bounded body: past that, stop reading (the
  // request is complete or refused before then).
  const size_t cap = options_.max_head_bytes + options_.max_body_bytes + 4;
  while (c.in.size() < cap) {
    const size_t want = std::min(sizeof(buf), cap - c.in.size());
    ssize_t n = Recv(c, buf, want);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    return Close(id);  // EOF or error: the client is gone
  }
  Process(c);
}

void Server::Process(Conn& c) {
  if (c.state == Conn::State::kHead) {
    if (c.in.empty()) return;
    if (!c.request_started) {
      c.request_started = true;
      c.since = absl::Now();
      c.deadline = c.since + options_.request_timeout;
    }
    const size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > options_.max_head_bytes) {
        ++too_large_;
        Refuse(c, 431, "request head too large");
      }
      return;
    }
    if (end > options_.max_head_bytes) {
      ++too_large_;
      return Refuse(c, 431, "request head too large");
    }
    Head head;
    const int status =
        ParseHead(absl::string_view(c.in).substr(0, end), options_.max_body_bytes, &head);
    c.in.erase(0, end + 4);
    if (status == 413) {
      ++too_large_;
      return Refuse(c, 413,
                    absl::StrCat("request body larger than ", options_.max_body_bytes, " bytes"));
    }
    if (status == 411) return Refuse(c, 411, "request bodies need a Content-Length");
    if (status != 0) return Refuse(c, status, "malformed request");
    const bool expects_continue =
        absl::EqualsIgnoreCase(head.request.Header("expect"), "100-continue");
    c.head = std::move(head);
    c.state = Conn::State::kBody;
    if (expects_continue && c.head.content_length > c.in.size()) {
      // The client waits for this before sending a body it was told fits (a body over the
      // limit got its 413 above, and is never sent).
      // Best effort on a fresh socket whose send buffer is empty (as before TLS).
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      (void)!Send(c, kContinue, sizeof(kContinue) - 1);
    }
  }
  if (c.state == Conn::State::kBody) {
    if (c.in.size() < c.head.content_length) return;
    c.head.request.body = c.in.substr(0, c.head.content_length);
    c.in.erase(0, c.head.content_length);
    Head head = std::move(c.head);
    c.head = Head();
    Dispatch(c, std::move(head));
  }
}

void Server::Dispatch(Conn& c, Head head) {
  const Lane lane = lane_of_(head.request);
  if (lane == Lane::kInline) {
    ++c.requests;
    Response response;
    try {
      response = handler_(head.request);
    } catch (const std::exception& e) {
      response = {500, "text/plain", absl::StrCat("internal error: ", e.what(), "\n")};
    }
    return StartWrite(c, Serialize(response, head.keep_alive, head.request.method == "HEAD"),
                      head.keep_alive, false);
  }
  Job job{c.id, head.keep_alive, std::move(head.request)};
  ++c.requests;
  c.state = Conn::State::kBusy;
  Watch(c, 0);  // not read while its request is answered
  Queue& queue = lane == Lane::kProbe ? probe_queue_ : control_queue_;
  if (!queue.Push(std::move(job))) {
    ++overloaded_;
    StartWrite(c, Serialize({503, "application/json", "{\"error\":\"overloaded, retry\"}"}, true),
               true, false);
  }
}

void Server::Refuse(Conn& c, int status, const std::string& why) {
  const std::string body = absl::StrCat("{\"error\":\"", why, "\"}");
  // Input may still be arriving (a refused body): half-close and drain it briefly, so the
  // client reads the refusal rather than a reset.
  StartWrite(c, Serialize({status, "application/json", body}, false), false, true);
}

void Server::StartWrite(Conn& c, std::string bytes, bool keep_alive, bool linger) {
  c.state = Conn::State::kWrite;
  c.out = std::move(bytes);
  c.out_off = 0;
  c.keep_alive = keep_alive;
  c.linger = linger;
  c.deadline = absl::Now() + options_.request_timeout;
  OnWritable(c);
}

void Server::OnWritable(Conn& c) {
  const uint64_t id = c.id;
  while (c.out_off < c.out.size()) {
    ssize_t n = Send(c, c.out.data() + c.out_off, c.out.size() - c.out_off);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      return Watch(c, c.state == Conn::State::kStream ? EPOLLIN | EPOLLOUT : EPOLLOUT);
    }
    return Close(id);
  }
  c.out.clear();
  c.out_off = 0;
  if (c.state == Conn::State::kStream) return Watch(c, EPOLLIN);
  if (c.keep_alive) return BeginIdle(c);
  if (!c.linger) return Close(id);
  // TLS: close_notify first; the drain below discards the client's bytes undecrypted.
  if (c.ssl != nullptr) SSL_shutdown(c.ssl);
  shutdown(c.fd, SHUT_WR);
  c.state = Conn::State::kLinger;
  c.in.clear();
  c.lingered = 0;
  c.since = absl::Now();
  c.deadline = c.since + kLinger;
  Watch(c, EPOLLIN);
  OnReadable(c);
}

void Server::BeginIdle(Conn& c) {
  c.state = Conn::State::kHead;
  c.request_started = false;
  c.since = absl::Now();
  c.deadline = c.since + options_.idle_timeout;
  Watch(c, EPOLLIN);
  // Decrypted bytes TLS holds are invisible to epoll: read them now.
  if (c.ssl != nullptr && SSL_pending(c.ssl) > 0) return OnReadable(c);
  if (!c.in.empty()) Process(c);  // a pipelined request
}

void Server::DrainDone() {
  std::vector<Done> done;
  {
    absl::MutexLock lock(&done_mu_);
    done.swap(done_);
  }
  for (Done& d : done) {
    auto it = conns_.find(d.conn_id);
    if (it == conns_.end()) {
      if (d.stream != nullptr) d.stream->Close();  // the client left before its stream began
      continue;
    }
    if (d.stream != nullptr) {
      AttachStream(*it->second, std::move(d.stream));
      it = conns_.find(d.conn_id);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      c.out = std::move(d.bytes);
      c.out.append(c.stream->Take());  // sent before the stream was attached
      c.out_off = 0;
      OnWritable(c);
      continue;
    }
    StartWrite(*it->second, std::move(d.bytes), d.keep_alive, false);
  }
}

void Server::AttachStream(Conn& c, std::shared_ptr<EventStream> stream) {
  c.state = Conn::State::kStream;
  c.stream = std::move(stream);
  const uint64_t id = c.id;
  c.stream->Attach([this, id] {
    {
      absl::MutexLock lock(&done_mu_);
      streams_ready_.push_back(id);
    }
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  });
}

void Server::FlushStreams() {
  std::vector<uint64_t> ready;
  {
    absl::MutexLock lock(&done_mu_);
    ready.swap(streams_ready_);
  }
  for (uint64_t id : ready) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->state != Conn::State::kStream) continue;
    Conn& c = *it->second;
    if (c.stream->closed()) {
      Close(id);  // dropped by its sender (backlog past kMaxStreamBacklog)
      continue;
    }
    c.out.erase(0, c.out_off);
    c.out_off = 0;
    c.out.append(c.stream->Take());
    if (c.out.size() > kMaxStreamBacklog) {
      ++timed_out_;  // the client reads too slowly
      Close(id);
      continue;
    }
    OnWritable(c);
  }
}

void Server::Sweep() {
  if (listen_paused_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenId;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    listen_paused_ = false;
  }
  const absl::Time now = absl::Now();
  std::vector<uint64_t> expired;
  for (auto& [id, c] : conns_) {
    // Busy: bounded by the handler itself; streams are bounded by whoever opens them.
    if (c->state == Conn::State::kBusy || c->state == Conn::State::kStream) continue;
    if (now >= c->deadline) expired.push_back(id);
  }
  for (uint64_t id : expired) {
    Conn& c = *conns_.at(id);
    // An idle keep-alive connection closing is normal; anything else was too slow.
    const bool idle = c.state == Conn::State::kHead && !c.request_started && c.requests > 0;
    if (!idle) ++timed_out_;
    Close(id);
  }
}

}  // namespace hai::http
