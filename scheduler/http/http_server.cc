#include "scheduler/http/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/log.h"

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
    default: return 500;
  }
}

void Reply(httplib::Response& res, int code, const nlohmann::json& body) {
  res.status = code;
  res.set_content(body.dump(), "application/json");
}

void ReplyError(httplib::Response& res, const absl::Status& s) {
  Reply(res, HttpCode(s), {{"error", std::string(s.message())}});
}

}  // namespace

HttpServer::HttpServer(store::Store& store, const PublishedViews& views, Notifier& notifier,
                       Metrics& metrics, absl::Duration tick)
    : store_(store),
      views_(views),
      notifier_(notifier),
      metrics_(metrics),
      tick_(tick),
      server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Routes() {
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    absl::Status db = store_.pool().Read("readyz", [](pqxx::read_transaction& tx) {
      tx.exec("SELECT 1");
      return absl::OkStatus();
    });
    // Ready when Postgres answers and the loop has passed within a few ticks.
    const bool passing = absl::Now() - views_.LastPassAt() < tick_ * 5 + absl::Seconds(5);
    if (!db.ok() || !passing) {
      res.status = 503;
      res.set_content(absl::StrCat(db.ok() ? "" : std::string(db.message()),
                                   passing ? "" : " scheduler has not passed recently", "\n"),
                      "text/plain");
      return;
    }
    res.set_content("ready\n", "text/plain");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.Render(), "text/plain; version=0.0.4");
  });

  // Task control: resolve the attempt from the path and check the task token.
  auto authorize = [this](const httplib::Request& req,
                          int64_t* attempt_id) -> absl::StatusOr<store::OpenAttempt> {
    if (!absl::SimpleAtoi(req.matches[1].str(), attempt_id)) {
      return absl::InvalidArgumentError("bad task id");
    }
    std::string token = BearerToken(req.get_header_value("Authorization"));
    if (token.empty()) return absl::UnauthenticatedError("missing task token");
    return store_.AttemptForTaskToken(*attempt_id, HashToken(token));
  };
  server_->Get(R"(/v1/task/(\d+)/suspend)",
               [this, authorize](const httplib::Request& req, httplib::Response& res) {
    int64_t id = 0;
    auto a = authorize(req, &id);
    if (!a.ok()) return ReplyError(res, a.status());
    const bool suspend = a->attempt.suspend_requested_at.has_value() ||
                         a->attempt.stop_requested_at.has_value();
    std::string reason = a->attempt.suspend_reason;
    if (a->attempt.stop_requested_at.has_value() && reason.empty()) reason = "stop requested";
    Reply(res, 200, {{"suspend", suspend}, {"reason", reason}});
  });
  server_->Post(R"(/v1/task/(\d+)/go_suspend)",
                [this, authorize](const httplib::Request& req, httplib::Response& res) {
    int64_t id = 0;
    auto a = authorize(req, &id);
    if (!a.ok()) return ReplyError(res, a.status());
    absl::Status s = store_.MarkGoSuspend(id);
    if (!s.ok()) return ReplyError(res, s);
    notifier_.NotifyManager(id, "go_suspend");
    Reply(res, 200, {{"ok", true}});
  });
  server_->Get(R"(/v1/task/(\d+)/whole_life_state)",
               [authorize](const httplib::Request& req, httplib::Response& res) {
    int64_t id = 0;
    auto a = authorize(req, &id);
    if (!a.ok()) return ReplyError(res, a.status());
    Reply(res, 200, {{"whole_life_state", a->chain.whole_life_state}});
  });
  auto set_state = [this, authorize](const httplib::Request& req, httplib::Response& res) {
    int64_t id = 0;
    auto a = authorize(req, &id);
    if (!a.ok()) return ReplyError(res, a.status());
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.contains("whole_life_state") ||
        !body["whole_life_state"].is_number_integer()) {
      return ReplyError(res, absl::InvalidArgumentError(
                                 "body must be {\"whole_life_state\": <32-bit integer>}"));
    }
    int64_t v = body["whole_life_state"].get<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) {
      return ReplyError(res, absl::InvalidArgumentError("whole_life_state must fit in 32 bits"));
    }
    absl::Status s = store_.SetWholeLifeState(a->chain.chain_id, static_cast<int>(v));
    if (!s.ok()) return ReplyError(res, s);
    Reply(res, 200, {{"whole_life_state", v}});
  };
  server_->Put(R"(/v1/task/(\d+)/whole_life_state)", set_state);
  server_->Post(R"(/v1/task/(\d+)/whole_life_state)", set_state);
}

absl::Status HttpServer::Start(const std::string& listen) {
  auto colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad http_listen '", listen, "'"));
  }
  Routes();
  const std::string host = listen.substr(0, colon);
  if (!server_->bind_to_port(host.c_str(), port)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen));
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "hai-http");
    server_->listen_after_bind();
  });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hai
