// haid's HTTP side port: /healthz (process up), /readyz (Postgres reachable and the scheduler
// passing), /metrics (Prometheus text), and task control for in-task code
// (python/hai): GET  /v1/task/<attempt>/suspend, POST /v1/task/<attempt>/go_suspend,
// GET|PUT /v1/task/<attempt>/whole_life_state, authenticated by the attempt's task token
// ("Authorization: Bearer $HAI_TASK_TOKEN"). Runs on cpp-httplib's own threads.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "scheduler/events/notifier.h"
#include "scheduler/loop/published_views.h"
#include "scheduler/metrics.h"
#include "scheduler/store/store.h"

namespace httplib {
class Server;
}

namespace hai {

class HttpServer {
 public:
  HttpServer(store::Store& store, const PublishedViews& views, Notifier& notifier, Metrics& metrics,
             absl::Duration tick);
  ~HttpServer();
  // Binds host:port and serves in a background thread; InvalidArgument/Unavailable on failure.
  absl::Status Start(const std::string& listen);
  void Stop();

 private:
  void Routes();
  store::Store& store_;
  const PublishedViews& views_;
  Notifier& notifier_;
  Metrics& metrics_;
  absl::Duration tick_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace hai
