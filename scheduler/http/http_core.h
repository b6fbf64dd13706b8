// A small bounded HTTP/1.1 server for haid's side port. One event thread (epoll) accepts
// connections and reads every request's head and body without blocking, so a slow or silent
// client costs a file descriptor and a buffer, never a thread. Only a complete request is
// answered, on its lane: inline on the event thread (/healthz: must never block), on the
// probes' own thread (/readyz, /metrics), or on the task-control pool with a bounded queue
// (full: 503). Bounds:
//   - a body larger than max_body_bytes is refused with 413 from its Content-Length, before
//     any of it is read and before auth; chunked request bodies are refused with 411;
//   - a head larger than max_head_bytes gets 431;
//   - a request's head and body must arrive within request_timeout of its first byte (a new
//     connection's first byte within request_timeout of accept), else the connection is
//     closed; an idle keep-alive connection is closed after idle_timeout;
//   - past max_connections, or out of descriptors, the connection that has waited longest on
//     an unfinished request (or idle) is dropped to make room, so a flood cannot lock the
//     probes out.
// Keep-alive is HTTP/1.1's default (HTTP/1.0 with "Connection: keep-alive").
//
// A handler may answer with an event stream (Response::stream, server-sent events): the head
// is written without a Content-Length and the connection then stays open, carrying whatever
// is sent on the stream, until either side closes it. A stream is not read from (input is
// drained and dropped), never times out, and is not evicted; whoever opens streams bounds
// their number. A stream whose client reads too slowly (more than kMaxStreamBacklog bytes
// unsent) is closed.
//
// TLS (ServerOptions::tls_cert_file/tls_key_file): every connection is TLS, handshaken
// without blocking on the event thread (a new connection's handshake counts against
// request_timeout like its first request). A client that speaks plain HTTP to the TLS port
// gets a plaintext 400 saying so, instead of a reset. The handshake's signature costs the
// event thread about a millisecond per new connection; clients keep connections alive.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct ssl_ctx_st;
struct ssl_st;

namespace hai::http {

struct Request {
  std::string method;
  std::string path;                            // the target without its query
  std::string query;                           // after '?', "" when none
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // The header's value ("" when absent); `lower_name` lower case.
  std::string Header(const std::string& lower_name) const;
};

// The sending side of a server-sent-events response (thread-safe). Created by a handler,
// attached to its connection by the server; Send queues bytes for the connection's event
// thread to write.
class EventStream {
 public:
  // Queues `bytes`; false once the connection is closed (drop the stream then).
  bool Send(absl::string_view bytes) ABSL_LOCKS_EXCLUDED(mu_);
  bool closed() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class Server;
  // Server side: set on attach (`wake` tells the event thread there is something to send),
  // cleared when the connection closes.
  void Attach(std::function<void()> wake) ABSL_LOCKS_EXCLUDED(mu_);
  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  std::string Take() ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool attached_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
};

// Past this many bytes unsent to a stream's client, the stream is closed.
inline constexpr size_t kMaxStreamBacklog = 1 << 20;

struct Response {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  // Extra headers (name, value), written as given: security headers, Set-Cookie.
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: an event stream (body ignored); the connection stays open for it.
  std::shared_ptr<EventStream> stream;
};

// A parsed request head (request line and headers, without the blank line that ends it).
struct Head {
  Request request;  // body empty
  size_t content_length = 0;
  bool keep_alive = true;
};

// Parses `head`; returns 0, or the HTTP status to refuse it with: 400 (malformed), 411
// (Transfer-Encoding: bodies must have a Content-Length), 413 (Content-Length above
// `max_body`), 505 (not HTTP/1.x). Pure: the unit tests call it directly.
int ParseHead(absl::string_view head, size_t max_body, Head* out);

// The bytes of a response; `keep_alive` false adds "Connection: close"; `head_only` (a HEAD
// request) sends the headers without the body.
std::string Serialize(const Response& response, bool keep_alive, bool head_only = false);

struct ServerOptions {
  size_t max_body_bytes = 64 * 1024;
  size_t max_head_bytes = 16 * 1024;
  absl::Duration request_timeout = absl::Seconds(5);
  absl::Duration idle_timeout = absl::Seconds(60);
  int max_connections = 1024;
  int workers = 8;            // task-control threads
  int queue_per_worker = 16;  // task-control requests waiting per thread before 503
  // PEM certificate chain and private key: serve TLS only. Both empty: plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// kInline: answered on the event thread itself (must never block: /healthz); kProbe: the
// probes' own thread; kControl: the task-control pool.
enum class Lane { kInline, kProbe, kControl };

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;
  // `lane_of` picks a complete request's lane; `handler` answers it on that lane's threads.
  Server(ServerOptions options, std::function<Lane(const Request&)> lane_of, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: any) and starts the threads; Unavailable when it cannot bind,
  // InvalidArgument when the TLS certificate or key cannot be loaded.
  absl::Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

  // Counters since Start (for /metrics and tests).
  struct Stats {
    int64_t accepted = 0;
    int64_t too_large = 0;   // 413 and 431
    int64_t timed_out = 0;   // closed for a slow request or write
    int64_t evicted = 0;     // dropped past max_connections
    int64_t overloaded = 0;  // 503: task-control queue full
    int64_t tls_failed = 0;  // TLS handshake failed (e.g. the client does not trust us)
  };
  Stats stats() const;

 private:
  struct Conn;
  struct Job {
    uint64_t conn_id = 0;
    bool keep_alive = true;
    Request request;
  };
  struct Done {
    uint64_t conn_id = 0;
    bool keep_alive = true;
    std::string bytes;
    std::shared_ptr<EventStream> stream;  // set: the connection becomes this stream's
  };
  class Queue {
   public:
    explicit Queue(size_t cap) : cap_(cap) {}
    bool Push(Job job) ABSL_LOCKS_EXCLUDED(mu_);  // false when full or stopped
    bool Pop(Job* job) ABSL_LOCKS_EXCLUDED(mu_);  // false once stopped
    void Stop() ABSL_LOCKS_EXCLUDED(mu_);

   private:
    bool Ready() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopped_ || !jobs_.empty(); }
    const size_t cap_;
    absl::Mutex mu_;
    std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
    bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  };

  void Loop();
  void Work(Queue* queue);
  void Accept();
  bool EvictOldestUnfinished();  // false when every connection is busy
  void OnHandshake(Conn& c);
  void OnReadable(Conn& c);
  // read/send through TLS when it is on; -1 with errno EAGAIN when TLS wants more I/O.
  ssize_t Recv(Conn& c, char* buf, size_t n);
  ssize_t Send(Conn& c, const char* buf, size_t n);
  void Process(Conn& c);
  void Dispatch(Conn& c, Head head);
  void Refuse(Conn& c, int status, const std::string& why);
  void StartWrite(Conn& c, std::string bytes, bool keep_alive, bool linger);
  void OnWritable(Conn& c);
  void BeginIdle(Conn& c);
  void Watch(Conn& c, uint32_t events);
  void Close(uint64_t id);
  void Sweep();
  void DrainDone();
  void AttachStream(Conn& c, std::shared_ptr<EventStream> stream);
  void FlushStreams();

  const ServerOptions options_;
  const std::function<Lane(const Request&)> lane_of_;
  const Handler handler_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: a response is ready, or Stop
  int port_ = 0;
  ssl_ctx_st* tls_ = nullptr;  // set by Start when TLS is configured
  std::atomic<bool> stopping_{false};
  std::thread loop_;
  std::vector<std::thread> workers_;
  Queue probe_queue_;
  Queue control_queue_;

  // Event thread only.
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 16;
  bool listen_paused_ = false;  // out of descriptors: accepting resumes at the next sweep

  absl::Mutex done_mu_;
  std::vector<Done> done_ ABSL_GUARDED_BY(done_mu_);
  std::vector<uint64_t> streams_ready_ ABSL_GUARDED_BY(done_mu_);  // conns with bytes to send

  std::atomic<int64_t> accepted_{0}, too_large_{0}, timed_out_{0}, evicted_{0}, overloaded_{0},
      tls_failed_{0};
};

}  // namespace hai::http
