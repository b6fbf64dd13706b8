#include "scheduler/http/http_server.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/log.h"
#include "scheduler/http/usage_endpoint.h"

namespace hai {
namespace {

int HttpCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kFailedPrecondition: return 409;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

http::Response Json(int code, const nlohmann::json& body) {
  return {code, "application/json", body.dump()};
}

http::Response Error(const absl::Status& s) {
  return Json(HttpCode(s), {{"error", std::string(s.message())}});
}

constexpr absl::string_view kTaskPrefix = "/v1/task/";

}  // namespace

HttpServer::HttpServer(store::Store& store, const PublishedViews& views, Notifier& notifier,
                       Metrics& metrics, absl::Duration tick, http::ServerOptions options)
    : store_(store),
      views_(views),
      notifier_(notifier),
      metrics_(metrics),
      tick_(tick),
      server_(std::make_unique<http::Server>(
          options, &HttpServer::LaneOf,
          [this](const http::Request& request) { return Handle(request); })) {}

HttpServer::~HttpServer() { Stop(); }

http::Lane HttpServer::LaneOf(const http::Request& request) {
  const std::string& p = request.path;
  // /healthz is answered on the event thread, so even a /readyz stuck on Postgres (its own
  // thread) cannot fail the liveness probe.
  if (p == "/healthz") return http::Lane::kInline;
  if (p == "/readyz" || p == "/metrics") return http::Lane::kProbe;
  return http::Lane::kControl;
}

http::Response HttpServer::Handle(const http::Request& req) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/healthz" && get) return {200, "text/plain", "ok\n"};
  if (req.path == "/readyz" && get) return Readyz();
  if (req.path == "/metrics" && get) {
    std::string text = metrics_.Render();
    // The side port's own bounds at work.
    const http::Server::Stats st = server_->stats();
    const std::pair<const char*, int64_t> counters[] = {
        {"accepted", st.accepted}, {"too_large", st.too_large},   {"timed_out", st.timed_out},
        {"evicted", st.evicted},   {"overloaded", st.overloaded}, {"tls_failed", st.tls_failed}};
    absl::StrAppend(&text,
                    "# HELP hai_http_side_port_events_total Side-port events: connections "
                    "accepted; refused as too large (413/431); closed as too slow; dropped past "
                    "http_max_connections; answered 503 with the task-control queue full; TLS "
                    "handshakes failed (plain HTTP or an untrusting client on the TLS port)\n"
                    "# TYPE hai_http_side_port_events_total counter\n");
    for (const auto& [what, n] : counters) {
      absl::StrAppend(&text, "hai_http_side_port_events_total{event=\"", what, "\"} ", n, "\n");
    }
    return {200, "text/plain; version=0.0.4", std::move(text)};
  }
  if (req.path == kUsagePath) {
    // The dashboard's usage page sends its session cookie; scripts send a Bearer header.
    std::string authorization = req.Header("authorization");
    if (authorization.empty() && dashboard_ != nullptr) {
      if (std::optional<std::string> token = dashboard_->TokenOf(req)) {
        authorization = absl::StrCat("Bearer ", *token);
      }
    }
    return UsageEndpoint(store_, req, authorization);
  }
  if (absl::StartsWith(req.path, kTaskPrefix)) {
    // /v1/task/<attempt>/<what>
    absl::string_view rest = absl::string_view(req.path).substr(kTaskPrefix.size());
    const size_t slash = rest.find('/');
    int64_t id = 0;
    if (slash != absl::string_view::npos && slash > 0 &&
        rest.substr(0, slash).find_first_not_of("0123456789") == absl::string_view::npos &&
        absl::SimpleAtoi(rest.substr(0, slash), &id)) {
      return TaskControl(req, id, std::string(rest.substr(slash + 1)));
    }
  }
  if (dashboard_ != nullptr && Dashboard::Serves(req.path)) return dashboard_->Handle(req);
  return Json(404, {{"error", "no such endpoint"}});
}

http::Response HttpServer::Readyz() {
  absl::Status db = store_.pool().Read("readyz", [](pqxx::read_transaction& tx) {
    tx.exec("SELECT 1");
    return absl::OkStatus();
  });
  // Ready when Postgres answers and the loop has passed within a few ticks.
  const bool passing = absl::Now() - views_.LastPassAt() < tick_ * 5 + absl::Seconds(5);
  if (!db.ok() || !passing) {
    return {503, "text/plain",
            absl::StrCat(db.ok() ? "" : std::string(db.message()),
                         passing ? "" : " scheduler has not passed recently", "\n")};
  }
  // Every replica serves the API, so a standby is ready too; the body says which role it has
  // (docs/deploy.md): "ready leader epoch 4" or "ready standby epoch 4".
  return {200, "text/plain",
          absl::StrCat("ready ", metrics_.leader.load() != 0 ? "leader" : "standby", " epoch ",
                       metrics_.leader_epoch.load(), "\n")};
}

http::Response HttpServer::TaskControl(const http::Request& req, int64_t id,
                                       const std::string& what) {
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  const bool put = req.method == "PUT";
  const bool known = (what == "suspend" && get) || (what == "go_suspend" && post) ||
                     (what == "whole_life_state" && (get || post || put)) ||
                     (what == "jupyter_access" && post);
  if (!known) return Json(404, {{"error", "no such endpoint"}});
  // The task token authorizes the attempt named in the path.
  std::string token = BearerToken(req.Header("authorization"));
  if (token.empty()) return Error(absl::UnauthenticatedError("missing task token"));
  auto a = store_.AttemptForTaskToken(id, HashToken(token));
  if (!a.ok()) return Error(a.status());

  if (what == "suspend") {
    const bool suspend =
        a->attempt.suspend_requested_at.has_value() || a->attempt.stop_requested_at.has_value();
    std::string reason = a->attempt.suspend_reason;
    if (a->attempt.stop_requested_at.has_value() && reason.empty()) reason = "stop requested";
    return Json(200, {{"suspend", suspend}, {"reason", reason}});
  }
  if (what == "jupyter_access") {
    // The container's notebook server asks about each request it gets (caching a yes for
    // under a second): the answer follows the owner's current users row.
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("token_sha256") || !body["token_sha256"].is_string()) {
      return Error(absl::InvalidArgumentError("body must be {\"token_sha256\": \"<hex>\"}"));
    }
    absl::Status s = store_.CheckJupyterAccess(id, body["token_sha256"].get<std::string>());
    if (!s.ok()) return Error(s);
    return Json(200, {{"ok", true}});
  }
  if (what == "go_suspend") {
    absl::Status s = store_.MarkGoSuspend(id);
    if (!s.ok()) return Error(s);
    notifier_.NotifyManager(id, "go_suspend");
    return Json(200, {{"ok", true}});
  }
  if (get) return Json(200, {{"whole_life_state", a->chain.whole_life_state}});
  absl::StatusOr<int> v = ParseWholeLifeState(req.body);
  if (!v.ok()) return Error(v.status());
  absl::Status s = store_.SetWholeLifeState(a->chain.chain_id, *v);
  if (!s.ok()) return Error(s);
  return Json(200, {{"whole_life_state", *v}});
}

absl::StatusOr<int> ParseWholeLifeState(std::string_view text) {
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("whole_life_state") ||
      !body["whole_life_state"].is_number_integer()) {
    return absl::InvalidArgumentError("body must be {\"whole_life_state\": <32-bit integer>}");
  }
  const nlohmann::json& value = body["whole_life_state"];
  // An unsigned JSON number is past int64's range or non-negative; get<int64_t>() would wrap
  // the former (2^64-1 reads as -1), so compare it unsigned.
  const bool fits = value.is_number_unsigned()
                        ? value.get<uint64_t>() <= static_cast<uint64_t>(INT32_MAX)
                        : value.get<int64_t>() >= INT32_MIN && value.get<int64_t>() <= INT32_MAX;
  if (!fits) return absl::InvalidArgumentError("whole_life_state must fit in 32 bits");
  return static_cast<int>(value.get<int64_t>());
}

absl::Status HttpServer::Start(const std::string& listen) {
  auto colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad http_listen '", listen, "'"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return server_->Start(host, port);
}

void HttpServer::Stop() { server_->Stop(); }

}  // namespace hai
