#include "scheduler/http/dashboard.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/model/proto_enums.h"
#include "common/model/tier.h"
#include "hai/v1/admin.grpc.pb.h"
#include "hai/v1/cluster.grpc.pb.h"
#include "hai/v1/jupyter.grpc.pb.h"
#include "hai/v1/task.grpc.pb.h"
#include "hai/v1/user.grpc.pb.h"
#include "scheduler/api/log_stream.h"
#include "scheduler/http/web_assets.h"

namespace hai {
namespace {

constexpr char kSessionCookie[] = "hai_session";
constexpr absl::string_view kApi = "/api/v1/";
// A log tail starts at most this far before the end of a rank file, and one answer carries
// at most kMaxLogAnswer bytes (the page asks again from the offset it got).
constexpr int64_t kLogTailBytes = 64 * 1024;
constexpr size_t kMaxLogAnswer = 256 * 1024;
constexpr int kMaxEvents = 1000;  // newest task_events rows shown per task

// 'self' only: no inline script or style, no eval, nothing framed or framing.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void AddSecurityHeaders(http::Response* r) {
  r->headers.emplace_back("Content-Security-Policy", kCsp);
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
  r->headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r->headers.emplace_back("Cache-Control", "no-store");
}

http::Response Json(int status, const nlohmann::json& body) {
  return {status, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

// Errors name their gRPC-style code, so scripts can tell them apart without the message.
http::Response Error(int status, const std::string& code, const std::string& message) {
  return Json(status, {{"error", message}, {"code", code}});
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    default: return "INTERNAL";
  }
}

int HttpStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return 200;
    case grpc::StatusCode::INVALID_ARGUMENT: return 400;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::ALREADY_EXISTS: return 409;
    case grpc::StatusCode::FAILED_PRECONDITION: return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 429;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    default: return 500;
  }
}

http::Response Error(const grpc::Status& s) {
  return Error(HttpStatus(s.error_code()), CodeName(s.error_code()), s.error_message());
}

http::Response Error(const absl::Status& s) {
  return Error(HttpStatus(static_cast<grpc::StatusCode>(s.code())),
               CodeName(static_cast<grpc::StatusCode>(s.code())), std::string(s.message()));
}

// A proto message as the API's JSON: proto field names, defaults included (so a page never
// tells "absent" from 0), int64 as JSON strings (proto3's JSON mapping).
nlohmann::json ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  o.always_print_enums_as_ints = false;
  std::string text;
  (void)google::protobuf::util::MessageToJsonString(m, &text, o);
  return nlohmann::json::parse(text, nullptr, false);
}

std::string UrlDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && absl::ascii_isxdigit(in[i + 1]) &&
               absl::ascii_isxdigit(in[i + 2])) {
      out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = part.find('=');
    out[UrlDecode(part.substr(0, eq))] =
        eq == absl::string_view::npos ? "" : UrlDecode(part.substr(eq + 1));
  }
  return out;
}

bool Flag(const std::map<std::string, std::string>& q, const std::string& name) {
  auto it = q.find(name);
  return it != q.end() && (it->second == "1" || it->second == "true");
}

}  // namespace

std::string CookieValue(const std::string& header, const std::string& name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

struct Dashboard::Caller {
  std::string token;
  bool by_cookie = false;
  // A client context that calls as this caller.
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }
};

Dashboard::Dashboard(DashboardOptions options, store::Store& store, const PublishedViews& views,
                     EventHub& hub)
    : options_(std::move(options)),
      store_(store),
      views_(views),
      hub_(hub),
      nodes_(store),
      sessions_(options_.session_ttl),
      channel_(options_.channel) {
  // Open pages learn a change with the version of the nodes that includes it (one read for
  // all of them); with none open, the next read refreshes instead.
  hub_.SetChangeHook([this](bool watched) -> std::string {
    if (!watched) {
      nodes_.MarkStale();
      return "";
    }
    if (absl::Status s = nodes_.Refresh(); !s.ok()) {
      nodes_.MarkStale();
      return "";
    }
    return absl::StrCat(",\"nodes_version\":", nodes_.version());
  });
}

Dashboard::~Dashboard() { hub_.SetChangeHook(nullptr); }

bool Dashboard::Serves(const std::string& path) {
  if (path == "/" || path == "/index.html" || absl::StartsWith(path, "/static/")) return true;
  // /api/v1/usage is the usage accounting's (scheduler/http/usage_*), not the dashboard's.
  return absl::StartsWith(path, kApi) && path != "/api/v1/usage";
}

http::Response Dashboard::Handle(const http::Request& request) {
  http::Response r;
  try {
    r = Route(request);
  } catch (const std::exception& e) {
    r = Error(500, "INTERNAL", absl::StrCat("internal error: ", e.what()));
  }
  AddSecurityHeaders(&r);
  return r;
}

http::Response Dashboard::Route(const http::Request& req) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (!absl::StartsWith(req.path, kApi)) {
    if (!get) return Error(405, "INVALID_ARGUMENT", "method not allowed");
    const std::string name = req.path == "/" ? "index.html"
                             : req.path == "/index.html"
                                 ? "index.html"
                                 : req.path.substr(std::string_view("/static/").size());
    const WebAsset* asset = FindWebAsset(name);
    if (asset == nullptr) return Error(404, "NOT_FOUND", "no such page");
    return {200, std::string(asset->content_type), std::string(asset->data, asset->size)};
  }
  const std::string rest = req.path.substr(kApi.size());
  if (rest == "session" && req.method == "POST") return SignIn(req);
  if (rest == "session" && req.method == "DELETE") return SignOut(req);

  // Who calls: a bearer token (scripts), else the session cookie (the page).
  Caller caller;
  caller.by_cookie = BearerToken(req.Header("authorization")).empty();
  std::optional<std::string> token = TokenOf(req);
  if (!token.has_value()) return Error(401, "UNAUTHENTICATED", "sign in first");
  caller.token = *std::move(token);
  if (!get && caller.by_cookie) {
    // Cross-site request forgery: a form or a simple request from another site can neither
    // set this header nor forge Origin; SameSite=Strict keeps the cookie off them as well.
    if (req.Header("x-hai-request") != "1") {
      return Error(403, "PERMISSION_DENIED", "state-changing calls need the X-Hai-Request header");
    }
    const std::string origin = req.Header("origin");
    if (!origin.empty() && origin != "http://" + req.Header("host") &&
        origin != "https://" + req.Header("host")) {
      return Error(403, "PERMISSION_DENIED", "cross-origin request refused");
    }
  }

  if (get && rest == "whoami") {
    hai::v1::WhoAmIResponse resp;
    grpc::Status s = hai::v1::UserService::NewStub(channel_)->WhoAmI(
        caller.Context().get(), hai::v1::WhoAmIRequest(), &resp);
    return s.ok() ? Json(200, ToJson(resp)) : Error(s);
  }
  if (get && rest == "nodes") return Nodes(caller, req);
  if (get && rest == "queue") return Queue(caller, req);
  if (get && rest == "tasks") return Tasks(caller, req);
  if (get && rest == "users") return Users(caller);
  if (get && rest == "jupyter") return Jupyter(caller);
  if (get && rest == "events") return Events(caller);
  std::vector<std::string> parts = absl::StrSplit(rest, '/');
  if (parts.size() >= 2 && parts[0] == "tasks") {
    int64_t id = 0;
    if (parts[1].find_first_not_of("0123456789") != std::string::npos ||
        !absl::SimpleAtoi(parts[1], &id) || id <= 0) {
      return Error(400, "INVALID_ARGUMENT", "a task is named by its numeric id");
    }
    if (get && parts.size() == 2) return Task(caller, id);
    if (get && parts.size() == 3 && parts[2] == "logs") return Logs(caller, id, req);
  }
  if (parts.size() == 3 && parts[0] == "nodes" && parts[2] == "state" && req.method == "POST") {
    return SetNodeState(caller, parts[1], req);
  }
  return Error(404, "NOT_FOUND", "no such endpoint");
}

std::optional<std::string> Dashboard::TokenOf(const http::Request& req) {
  std::string bearer = BearerToken(req.Header("authorization"));
  if (!bearer.empty()) return bearer;
  return sessions_.Token(CookieValue(req.Header("cookie"), kSessionCookie), absl::Now());
}

http::Response Dashboard::SignIn(const http::Request& req) {
  // Login CSRF: another site must not sign a browser in as someone else.
  if (req.Header("x-hai-request") != "1") {
    return Error(403, "PERMISSION_DENIED", "sign-in needs the X-Hai-Request header");
  }
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("token") ||
      !body["token"].is_string() || body["token"].get<std::string>().empty()) {
    return Error(400, "INVALID_ARGUMENT", "body must be {\"token\": \"<your token>\"}");
  }
  Caller caller{body["token"].get<std::string>(), false};
  hai::v1::WhoAmIResponse who;
  grpc::Status s = hai::v1::UserService::NewStub(channel_)->WhoAmI(caller.Context().get(),
                                                                   hai::v1::WhoAmIRequest(), &who);
  if (!s.ok()) return Error(s);
  const std::string id = sessions_.Create(caller.token, absl::Now());
  http::Response r = Json(200, ToJson(who));
  r.headers.emplace_back("Set-Cookie", absl::StrCat(kSessionCookie, "=", id,
                                                    "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                                                    absl::ToInt64Seconds(options_.session_ttl),
                                                    options_.secure_cookie ? "; Secure" : ""));
  return r;
}

http::Response Dashboard::SignOut(const http::Request& req) {
  if (req.Header("x-hai-request") != "1") {
    return Error(403, "PERMISSION_DENIED", "sign-out needs the X-Hai-Request header");
  }
  sessions_.Remove(CookieValue(req.Header("cookie"), kSessionCookie));
  http::Response r = Json(200, {{"ok", true}});
  r.headers.emplace_back("Set-Cookie", absl::StrCat(kSessionCookie,
                                                    "=; Path=/; HttpOnly; SameSite=Strict; "
                                                    "Max-Age=0"));
  return r;
}

http::Response Dashboard::Nodes(const Caller& caller, const http::Request& req) {
  // Any signed-in user may see the nodes (as ClusterService.ListNodes: authentication only).
  // The same fields as ListNodes, read here rather than through it: ListNodes loads every open
  // attempt, queued ones too (10,000 in the latency benchmark), where the map needs only the
  // hosts and the attempts holding GPUs.
  const auto q = ParseQuery(req.query);
  int64_t since = -1;
  if (auto it = q.find("since"); it != q.end()) {
    if (it->second.find_first_not_of("0123456789") != std::string::npos ||
        !absl::SimpleAtoi(it->second, &since) || since < 0) {
      return Error(400, "INVALID_ARGUMENT",
                   "since must be a version number (a non-negative integer)");
    }
  }
  hai::v1::WhoAmIResponse who;
  grpc::Status s = hai::v1::UserService::NewStub(channel_)->WhoAmI(caller.Context().get(),
                                                                   hai::v1::WhoAmIRequest(), &who);
  if (!s.ok()) return Error(s);
  absl::StatusOr<NodeSnapshot::Answer> a = nodes_.Since(since);
  if (!a.ok()) return Error(a.status());
  // The node objects are kept serialized: joined, not parsed again.
  std::string body = absl::StrCat("{\"version\":", a->version,
                                  ",\"full\":", a->full ? "true" : "false", ",\"nodes\":[");
  for (size_t i = 0; i < a->nodes.size(); ++i) {
    absl::StrAppend(&body, i == 0 ? "" : ",", a->nodes[i]);
  }
  body += "]}";
  return {200, "application/json", std::move(body)};
}

http::Response Dashboard::Queue(const Caller& caller, const http::Request& req) {
  const auto q = ParseQuery(req.query);
  hai::v1::QueueRequest request;
  request.set_all_users(Flag(q, "all"));
  if (auto it = q.find("group"); it != q.end()) request.set_group(it->second);
  hai::v1::QueueResponse resp;
  grpc::Status s =
      hai::v1::TaskService::NewStub(channel_)->Queue(caller.Context().get(), request, &resp);
  if (!s.ok()) return Error(s);
  nlohmann::json out = ToJson(resp);
  if (!out.contains("entries")) out["entries"] = nlohmann::json::array();
  return Json(200, out);
}

http::Response Dashboard::Tasks(const Caller& caller, const http::Request& req) {
  const auto q = ParseQuery(req.query);
  hai::v1::ListRequest request;
  request.set_all_users(Flag(q, "all"));
  request.set_include_finished(Flag(q, "finished"));
  int limit = 100;
  if (auto it = q.find("limit"); it != q.end() && !absl::SimpleAtoi(it->second, &limit)) {
    return Error(400, "INVALID_ARGUMENT", "limit must be a number");
  }
  request.set_limit(limit);
  hai::v1::ListResponse resp;
  grpc::Status s =
      hai::v1::TaskService::NewStub(channel_)->List(caller.Context().get(), request, &resp);
  if (!s.ok()) return Error(s);
  nlohmann::json out = ToJson(resp);
  if (!out.contains("tasks")) out["tasks"] = nlohmann::json::array();
  return Json(200, out);
}

http::Response Dashboard::Task(const Caller& caller, int64_t chain_id) {
  hai::v1::GetRequest request;
  request.mutable_task()->set_chain_id(chain_id);
  hai::v1::GetResponse resp;
  grpc::Status s =
      hai::v1::TaskService::NewStub(channel_)->Get(caller.Context().get(), request, &resp);
  if (!s.ok()) return Error(s);  // another user's task: PERMISSION_DENIED, as on the CLI
  nlohmann::json out = ToJson(resp.task());
  // The timeline: the chain's task_events (newest kMaxEvents, oldest first). A preemptor's
  // "preempting" events name its victims; a victim's "suspend_requested" its preemptor.
  nlohmann::json events = nlohmann::json::array();
  absl::Status read = store_.pool().Read("dashboard_events", [&](pqxx::read_transaction& tx) {
    for (const auto& row : tx.exec_params(
             "SELECT * FROM (SELECT t.event_id, extract(epoch FROM t.at)::float8, "
             "COALESCE(t.attempt_id, 0), t.kind, t.actor, t.detail::text FROM task_events t "
             "WHERE t.chain_id = $1 ORDER BY t.event_id DESC LIMIT $2) e ORDER BY 1",
             chain_id, kMaxEvents)) {
      events.push_back(
          {{"event_id", std::to_string(row[0].as<int64_t>())},
           {"at_unix", row[1].as<double>()},
           {"attempt_id", std::to_string(row[2].as<int64_t>())},
           {"kind", row[3].as<std::string>()},
           {"actor", row[4].as<std::string>()},
           {"detail", nlohmann::json::parse(row[5].as<std::string>(), nullptr, false)}});
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return Error(read);
  out["events"] = std::move(events);
  return Json(200, out);
}

http::Response Dashboard::Logs(const Caller& caller, int64_t chain_id, const http::Request& req) {
  hai::v1::GetRequest request;
  request.mutable_task()->set_chain_id(chain_id);
  hai::v1::GetResponse resp;
  grpc::Status s =
      hai::v1::TaskService::NewStub(channel_)->Get(caller.Context().get(), request, &resp);
  if (!s.ok()) return Error(s);  // the same authorization as StreamLogs
  const auto q = ParseQuery(req.query);
  int rank = 0;
  int attempt_no = resp.task().attempts_size() > 0
                       ? resp.task().attempts(resp.task().attempts_size() - 1).attempt_no()
                       : 0;
  int64_t from = -1;
  if (auto it = q.find("rank");
      it != q.end() && (!absl::SimpleAtoi(it->second, &rank) || rank < 0)) {
    return Error(400, "INVALID_ARGUMENT", "rank must be a number >= 0");
  }
  if (auto it = q.find("attempt");
      it != q.end() && (!absl::SimpleAtoi(it->second, &attempt_no) || attempt_no < 0)) {
    return Error(400, "INVALID_ARGUMENT", "attempt must be a number >= 0");
  }
  if (auto it = q.find("from");
      it != q.end() && (!absl::SimpleAtoi(it->second, &from) || from < 0)) {
    return Error(400, "INVALID_ARGUMENT", "from must be a byte offset >= 0");
  }
  api::LogFollower follower(options_.log_dir, chain_id, rank, 64 * 1024);
  follower.SetTail(kLogTailBytes);
  if (from >= 0) follower.StartAt(attempt_no, rank, from);
  std::string text;
  bool more = false;
  follower.Read(attempt_no, /*final_read=*/false, [&](api::LogPiece&& piece) {
    text += piece.text;
    if (text.size() >= kMaxLogAnswer) {
      more = true;
      return false;
    }
    return true;
  });
  return Json(200, {{"chain_id", std::to_string(chain_id)},
                    {"attempt_no", attempt_no},
                    {"rank", rank},
                    {"text", text},
                    {"offset", follower.Offset(attempt_no, rank)},
                    {"more", more}});
}

http::Response Dashboard::Users(const Caller& caller) {
  hai::v1::WhoAmIResponse who;
  grpc::Status s = hai::v1::UserService::NewStub(channel_)->WhoAmI(caller.Context().get(),
                                                                   hai::v1::WhoAmIRequest(), &who);
  if (!s.ok()) return Error(s);
  nlohmann::json out = {{"me", ToJson(who)}};
  if (who.role() != "admin") return Json(200, out);
  // Admins: every user with their effective quota and use per group and tier (as of the
  // last pass), and the quota rows that give them.
  auto admin = hai::v1::AdminService::NewStub(channel_);
  hai::v1::UserListResponse users;
  s = admin->UserList(caller.Context().get(), hai::v1::UserListRequest(), &users);
  if (!s.ok()) return Error(s);
  hai::v1::QuotaListResponse rows;
  s = admin->QuotaList(caller.Context().get(), hai::v1::QuotaListRequest(), &rows);
  if (!s.ok()) return Error(s);
  const std::shared_ptr<const QuotaView> quota = views_.QuotaShared();
  nlohmann::json list = nlohmann::json::array();
  std::map<std::pair<std::string, int>, int64_t> group_use;
  for (const hai::v1::AdminUser& u : users.users()) {
    nlohmann::json j = ToJson(u);
    nlohmann::json lines = nlohmann::json::array();
    std::map<std::pair<std::string, int>, nlohmann::json> by_key;
    for (const auto& [key, limit] : quota->quota) {
      if (key.user != u.name()) continue;
      by_key[{key.group, static_cast<int>(key.tier)}]["limit_nodes"] = limit;
    }
    for (const auto& [key, used] : quota->used_nodes) {
      if (key.user != u.name()) continue;
      by_key[{key.group, static_cast<int>(key.tier)}]["used_nodes"] = used;
      group_use[{key.group, static_cast<int>(key.tier)}] += used;
    }
    for (auto& [key, line] : by_key) {
      line["group"] = key.first;
      line["tier"] = key.second;
      line["tier_name"] = std::string(model::TierName(static_cast<model::Tier>(key.second)));
      if (!line.contains("limit_nodes")) line["limit_nodes"] = 0;
      if (!line.contains("used_nodes")) line["used_nodes"] = 0;
      lines.push_back(std::move(line));
    }
    j["quota"] = std::move(lines);
    list.push_back(std::move(j));
  }
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& [key, used] : group_use) {
    groups.push_back(
        {{"group", key.first},
         {"tier", key.second},
         {"tier_name", std::string(model::TierName(static_cast<model::Tier>(key.second)))},
         {"used_nodes", used}});
  }
  out["users"] = std::move(list);
  out["group_use"] = std::move(groups);
  nlohmann::json entries = ToJson(rows);
  out["quota_rows"] = entries.contains("entries") ? entries["entries"] : nlohmann::json::array();
  return Json(200, out);
}

http::Response Dashboard::Jupyter(const Caller& caller) {
  hai::v1::JupyterListRequest request;
  hai::v1::JupyterListResponse resp;
  grpc::Status s =
      hai::v1::JupyterService::NewStub(channel_)->List(caller.Context().get(), request, &resp);
  if (!s.ok()) return Error(s);
  nlohmann::json out = ToJson(resp);
  if (!out.contains("containers")) out["containers"] = nlohmann::json::array();
  return Json(200, out);
}

http::Response Dashboard::SetNodeState(const Caller& caller, const std::string& node,
                                       const http::Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("state") ||
      !body["state"].is_string() || (body.contains("reason") && !body["reason"].is_string())) {
    return Error(400, "INVALID_ARGUMENT",
                 "body must be {\"state\": \"READY|CORDONED|DRAINING\", \"reason\": \"...\"}");
  }
  hai::v1::NodeStateRequest request;
  hai::v1::Node::State state;
  if (!hai::v1::Node::State_Parse(absl::AsciiStrToUpper(body["state"].get<std::string>()),
                                  &state)) {
    return Error(400, "INVALID_ARGUMENT", "state must be READY, CORDONED or DRAINING");
  }
  request.set_name(node);
  request.set_state(state);
  request.set_reason(body.value("reason", ""));
  hai::v1::NodeStateResponse resp;
  grpc::Status s = hai::v1::AdminService::NewStub(channel_)->NodeSetState(caller.Context().get(),
                                                                          request, &resp);
  return s.ok() ? Json(200, ToJson(resp)) : Error(s);
}

http::Response Dashboard::Events(const Caller& caller) {
  // Authenticated like every read, then held open by the side port's event thread.
  hai::v1::WhoAmIResponse who;
  grpc::Status s = hai::v1::UserService::NewStub(channel_)->WhoAmI(caller.Context().get(),
                                                                   hai::v1::WhoAmIRequest(), &who);
  if (!s.ok()) return Error(s);
  absl::StatusOr<std::shared_ptr<http::EventStream>> stream = hub_.Open();
  if (!stream.ok()) {
    return Error(503, "RESOURCE_EXHAUSTED", std::string(stream.status().message()));
  }
  http::Response r{200, "text/event-stream", ""};
  r.stream = *std::move(stream);
  return r;
}

}  // namespace hai
