// The web dashboard and its JSON API (docs/http-api.md), served on haid's HTTP side port:
//   GET  /, /static/*            the page (web/, embedded at build time: web_assets.h)
//   POST /api/v1/session         sign in with a token -> HttpOnly SameSite=Strict cookie
//   GET  /api/v1/...             reads: whoami, nodes (?since=V: changed ones), queue, tasks,
//                                task, logs, users, jupyter
//   POST /api/v1/nodes/<n>/state admin: cordon, uncordon, drain
//   GET  /api/v1/events          server-sent events (EventHub), driven by LISTEN/NOTIFY
//
// Authorization is the gRPC API's, not a copy of it: each API call is made as the caller
// (their token, from the session or an "Authorization: Bearer" header) to haid's own gRPC
// services over loopback, so what a user may see or do is decided by the same handlers as
// for hai-cli. What the gRPC API has no call for is read here after a gRPC call has
// authorized it: a task's events (after TaskService.Get of that task), its rank logs (the
// same LogFollower as StreamLogs, bounded to a tail), and the nodes with the task holding each
// GPU (after UserService.WhoAmI: ClusterService.ListNodes needs only authentication, and
// already tells every user the chains on each node; read here because ListNodes loads every
// open attempt, queued ones included, where the map needs only those holding GPUs).
//
// A state-changing call made with the session cookie must carry "X-Hai-Request: 1" and, when
// the browser sends one, an Origin equal to the page's own (cross-site forms can set
// neither); the cookie is SameSite=Strict besides. Every response carries the security
// headers (a CSP without 'unsafe-inline', nosniff, frame-ancestors 'none', no referrer).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "scheduler/http/event_hub.h"
#include "scheduler/http/http_core.h"
#include "scheduler/http/node_snapshot.h"
#include "scheduler/http/web_sessions.h"
#include "scheduler/loop/published_views.h"
#include "scheduler/store/store.h"

namespace grpc {
class Channel;
}

namespace hai {

struct DashboardOptions {
  // haid's own gRPC API, in-process (grpc::Server::InProcessChannel): no socket, so no TLS
  // and no listen address to reach.
  std::shared_ptr<grpc::Channel> channel;
  std::string log_dir;      // <data_dir>/logs
  absl::Duration session_ttl = absl::Hours(12);
  bool secure_cookie = false;  // add Secure (set when served behind TLS)
};

class Dashboard {
 public:
  Dashboard(DashboardOptions options, store::Store& store, const PublishedViews& views,
            EventHub& hub);
  ~Dashboard();

  // True for the paths this serves (the page, its assets, /api/v1/ except what others own).
  static bool Serves(const std::string& path);
  http::Response Handle(const http::Request& request);
  // The token a request acts with: its "Authorization: Bearer" token, else its session
  // cookie's; nullopt when neither. For other /api/v1/ handlers (usage) to accept the page's
  // session; the token is then authenticated as any other.
  std::optional<std::string> TokenOf(const http::Request& request);

 private:
  struct Caller;
  http::Response Route(const http::Request& request);
  http::Response SignIn(const http::Request& request);
  http::Response SignOut(const http::Request& request);
  http::Response Nodes(const Caller& caller, const http::Request& request);
  http::Response Queue(const Caller& caller, const http::Request& request);
  http::Response Tasks(const Caller& caller, const http::Request& request);
  http::Response Task(const Caller& caller, int64_t chain_id);
  http::Response Logs(const Caller& caller, int64_t chain_id, const http::Request& request);
  http::Response Users(const Caller& caller);
  http::Response Jupyter(const Caller& caller);
  http::Response SetNodeState(const Caller& caller, const std::string& node,
                              const http::Request& request);
  http::Response Events(const Caller& caller);

  DashboardOptions options_;
  store::Store& store_;
  const PublishedViews& views_;
  EventHub& hub_;
  NodeSnapshot nodes_;  // the map's nodes, versioned (GET /api/v1/nodes?since=)
  WebSessions sessions_;
  std::shared_ptr<grpc::Channel> channel_;
};

// The value of cookie `name` in a Cookie header ("" when absent).
std::string CookieValue(const std::string& header, const std::string& name);

}  // namespace hai
