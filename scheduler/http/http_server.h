// haid's HTTP side port: /healthz (process up), /readyz (Postgres reachable and the scheduler
// passing), /metrics (Prometheus text), and task control for in-task code
// (python/hai): GET  /v1/task/<attempt>/suspend, POST /v1/task/<attempt>/go_suspend,
// GET|PUT /v1/task/<attempt>/whole_life_state, and for a Jupyter container's server
// POST /v1/task/<attempt>/jupyter_access {"token_sha256": ...} (200, or 403 with why: the
// owner's current users row decides, Store::CheckJupyterAccess); all authenticated by the
// attempt's task token ("Authorization: Bearer $HAI_TASK_TOKEN"). Served by http::Server
// (http_core.h): bodies are capped before auth (413), probes run on their own thread apart from
// task control, slow clients are dropped, and connections are kept alive for the SDK's polls.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scheduler/events/notifier.h"
#include "scheduler/http/dashboard.h"
#include "scheduler/http/http_core.h"
#include "scheduler/loop/published_views.h"
#include "scheduler/metrics.h"
#include "scheduler/store/store.h"

namespace hai {

// The value of a `{"whole_life_state": N}` body: InvalidArgument unless N is an integer
// that fits in 32 bits (JSON numbers past int64, which would wrap, included).
absl::StatusOr<int> ParseWholeLifeState(std::string_view body);

class HttpServer {
 public:
  HttpServer(store::Store& store, const PublishedViews& views, Notifier& notifier, Metrics& metrics,
             absl::Duration tick, http::ServerOptions options = {});
  ~HttpServer();
  // Binds host:port (port 0: any free port) and serves in background threads;
  // InvalidArgument/Unavailable on failure.
  absl::Status Start(const std::string& listen);
  void Stop();
  int port() const { return server_->port(); }
  http::Server::Stats stats() const { return server_->stats(); }

  // Which lane a request runs on: the probes apart from task control.
  static http::Lane LaneOf(const http::Request& request);

  // Serves the web dashboard and its JSON API too (set before Start; may stay unset).
  void SetDashboard(Dashboard* dashboard) { dashboard_ = dashboard; }

 private:
  http::Response Handle(const http::Request& request);
  http::Response Readyz();
  http::Response TaskControl(const http::Request& request, int64_t attempt_id,
                             const std::string& what);
  store::Store& store_;
  const PublishedViews& views_;
  Notifier& notifier_;
  Metrics& metrics_;
  absl::Duration tick_;
  std::unique_ptr<http::Server> server_;
  Dashboard* dashboard_ = nullptr;
};

}  // namespace hai
