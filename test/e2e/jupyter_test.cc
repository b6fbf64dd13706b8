// End-to-end Jupyter dev containers (issue 5): real haid, managers, hai-cli and Debian's
// jupyter-notebook server against the test Postgres. One cluster is shared by the cases
// (a notebook server takes seconds to start): a training group `default` (1 node) and a
// jupyter group `jupyter` (2 nodes). The cases use different users so they do not share
// quota; external users are culled after 3 s of idleness.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kExtraToml[] = R"TOML(
[[nodes]]
name = "jup-0"
group = "jupyter"
gpus = 2
cpu_millis = 4000
memory_mib = 8192
jupyter = true

[[nodes]]
name = "jup-1"
group = "jupyter"
gpus = 2
cpu_millis = 4000
memory_mib = 8192
jupyter = true

[jupyter]
default_group = "jupyter"
idle_timeout_s = 3600

[jupyter.idle_timeout_s_by_role]
external = 3
)TOML";

nlohmann::json Json(const CommandResult& r) {
  const size_t brace = r.output.find('{');
  if (brace == std::string::npos) return nlohmann::json();
  return nlohmann::json::parse(r.output.substr(brace), nullptr, false);
}

// A command that must succeed; its output explains a failure.
void ExpectOk(const CommandResult& r) { EXPECT_EQ(r.exit_code, 0) << r.output; }

int64_t AsInt(const nlohmann::json& v) {
  return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
}

// "http://127.0.0.1:PORT/?token=T" -> port, path+query, token.
struct ParsedUrl {
  int port = 0;
  std::string path;
  std::string token;
};
ParsedUrl ParseUrl(const std::string& url) {
  ParsedUrl p;
  const std::string prefix = "http://127.0.0.1:";
  if (url.rfind(prefix, 0) != 0) return p;
  const size_t slash = url.find('/', prefix.size());
  p.port = std::stoi(url.substr(prefix.size(), slash - prefix.size()));
  p.path = slash == std::string::npos ? "/" : url.substr(slash);
  if (const size_t t = url.find("?token="); t != std::string::npos) p.token = url.substr(t + 7);
  return p;
}

class JupyterE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster(1, 1, kExtraToml);
    cluster_->AddUser("alice", "alice-token");
    cluster_->AddUser("bob", "bob-token");
    cluster_->AddUser("carol", "carol-token", "external");
    cluster_->AddUser("dave", "dave-token");
    cluster_->AddUser("root", "root-token", "admin");
    // alice and carol: explicit rows; bob: HAI's packed form (4 GiB, 2 cores, 1 container).
    cluster_->db().Exec(
        "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
        "('user','alice','jupyter:jupyter:containers', 2),"
        "('user','alice','jupyter:jupyter:cpu', 2),"
        "('user','alice','jupyter:jupyter:memory_gib', 4),"
        "('user','alice','jupyter:jupyter:gpus', 1),"
        "('user','bob','jupyter:jupyter', 400201),"
        "('user','carol','jupyter:jupyter', 400203),"
        "('user','carol','jupyter:jupyter:keep_alive', 1),"
        "('user','dave','jupyter:jupyter', 400201),"
        "('public','public','node-default-EXTREME_HIGH', 4)");
    cluster_->StartDaemon();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // The shared cluster's directory goes with the suite, so a failing case prints the logs.
  void TearDown() override {
    if (!HasFailure()) return;
    const std::string log = cluster_->DaemonLog();
    std::cerr << "---- haid.log (tail)\n" << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
    std::cerr << RunCommand("tail -n 30 " + cluster_->dir() + "/var/managers/* " + cluster_->dir() +
                            "/var/logs/*/*/rank-0.log")
                     .output;
  }

  Cluster& c() { return *cluster_; }

  std::string State(int64_t chain) { return c().CurrentState(chain); }

  // Process group of the container's rank 0 (pods.pid), 0 when unknown.
  int64_t PodPgid(int64_t chain) {
    const std::string v = c().db().Query(absl::StrCat(
        "SELECT p.pid FROM pods p JOIN attempts a USING (attempt_id) WHERE a.chain_id = ", chain,
        " AND p.pid IS NOT NULL ORDER BY a.attempt_no DESC LIMIT 1"));
    return v.empty() ? 0 : std::stoll(v);
  }

  static Cluster* cluster_;
};
Cluster* JupyterE2E::cluster_ = nullptr;

TEST_F(JupyterE2E, NotebookServesKernelsAndWorkspaceThenStopsAndKeepsTheWorkspace) {
  // Create through hai-cli: it waits until the server answers and prints the URL.
  CommandResult r = c().Cli("alice", "jupyter create --name nb --cpu 1 --memory 2 --gpus 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output << c().DaemonLog();
  nlohmann::json created = Json(r);
  const std::string url = created["url"].get<std::string>();
  const int64_t chain = AsInt(created["container"]["chain_id"]);
  EXPECT_EQ(created["container"]["node"].get<std::string>().rfind("jup-", 0), 0u)
      << "a container lands on a jupyter node";
  ParsedUrl u = ParseUrl(url);
  ASSERT_GT(u.port, 0) << url;
  // The URL carries the container's own token, never the owner's API token.
  ASSERT_EQ(u.token.size(), 64u) << url;
  EXPECT_THAT(url, Not(HasSubstr("alice-token")));

  // The URL with the token opens the real notebook server.
  httplib::Client http("127.0.0.1", u.port);
  http.set_follow_location(true);
  auto page = http.Get(u.path.c_str());
  ASSERT_TRUE(page) << "no answer from " << url;
  EXPECT_EQ(page->status, 200) << page->body.substr(0, 300);
  // Without a token: not the notebook (redirect to login, or 403 for the API).
  httplib::Client anon("127.0.0.1", u.port);
  auto denied = anon.Get("/api/contents");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  // Another user's token is refused too, and so is the owner's API token itself.
  auto wrong = anon.Get("/api/contents", {{"Authorization", "token bob-token"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  auto api_token = anon.Get("/api/contents", {{"Authorization", "token alice-token"}});
  ASSERT_TRUE(api_token);
  EXPECT_EQ(api_token->status, 403);

  // A kernel through the REST API, and the workspace through /api/contents.
  const httplib::Headers auth = {{"Authorization", "token " + u.token}};
  auto kernel = http.Post("/api/kernels", auth, "{\"name\": \"python3\"}", "application/json");
  ASSERT_TRUE(kernel);
  ASSERT_EQ(kernel->status, 201) << kernel->body;
  const std::string kernel_id = nlohmann::json::parse(kernel->body)["id"].get<std::string>();
  auto kernels = http.Get("/api/kernels", auth);
  ASSERT_TRUE(kernels);
  EXPECT_THAT(kernels->body, HasSubstr(kernel_id));
  auto put =
      http.Put("/api/contents/hello.txt", auth,
               R"({"type": "file", "format": "text", "content": "kept"})", "application/json");
  ASSERT_TRUE(put);
  ASSERT_TRUE(put->status == 201 || put->status == 200) << put->status << put->body;
  auto listing = http.Get("/api/contents", auth);
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->status, 200);
  EXPECT_THAT(listing->body, HasSubstr("hello.txt"));
  // The root is the user's workspace under data_dir.
  std::ifstream on_disk(c().dir() + "/var/workspaces/alice/hello.txt");
  std::string content((std::istreambuf_iterator<char>(on_disk)), {});
  EXPECT_EQ(content, "kept");

  // The server's access log (the rank log) never holds the token of a ?token= request.
  const std::string log_path = c().dir() + "/var/logs/" + std::to_string(chain) + "/0/rank-0.log";
  std::ifstream log_file(log_path);
  std::string rank_log((std::istreambuf_iterator<char>(log_file)), {});
  EXPECT_THAT(rank_log, HasSubstr("token=[hidden]")) << log_path;
  EXPECT_THAT(rank_log, Not(HasSubstr("alice-token")));
  EXPECT_THAT(rank_log, Not(HasSubstr(u.token)));

  // The container is one of the user's tasks: `hai-cli list` shows it as kind jupyter.
  r = c().Cli("alice", "list --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  bool listed = false;
  const nlohmann::json tasks = Json(r);  // named: a temporary would die before the loop body
  for (const auto& t : tasks["tasks"]) {
    if (AsInt(t["chain_id"]) == chain) listed = t["kind"] == "jupyter";
  }
  EXPECT_TRUE(listed) << r.output;
  r = c().Cli("alice", "jupyter list");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("nb"));
  EXPECT_THAT(r.output, HasSubstr("running"));
  // With the caller's quota and use: 1 of 2 containers, 2 of 4 GiB, 1 of 1 GPU.
  r = c().Cli("alice", "jupyter list --json");
  const nlohmann::json quota = Json(r)["quota"];
  ASSERT_EQ(quota.size(), 1u) << r.output;
  EXPECT_EQ(quota[0]["group"], "jupyter");
  EXPECT_EQ(AsInt(quota[0]["used_containers"]), 1);
  EXPECT_EQ(AsInt(quota[0]["containers"]), 2);
  EXPECT_EQ(AsInt(quota[0]["used_memory_mib"]), 2048);
  EXPECT_EQ(AsInt(quota[0]["memory_mib"]), 4096);
  EXPECT_EQ(quota[0]["used_gpus"], 1);
  // whoami shows the same lines next to the training quota.
  r = c().Cli("alice", "whoami");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("jupyter quota (used/limit):"));
  EXPECT_THAT(r.output, HasSubstr("1/2"));
  EXPECT_THAT(r.output, HasSubstr("2Gi/4Gi"));

  // Stop: the server's whole process group is gone and the port is closed.
  const int64_t pgid = PodPgid(chain);
  ASSERT_GT(pgid, 0);
  r = c().Cli("alice", "jupyter stop nb --wait --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Json(r)["container"]["state"], "STOPPED");
  EXPECT_TRUE(
      WaitFor([&] { return kill(-static_cast<pid_t>(pgid), 0) != 0 && errno == ESRCH; }, 10000))
      << "process group " << pgid << " still exists";
  httplib::Client after("127.0.0.1", u.port);
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/api/status")) << "the server still answers after stop";

  // Re-create: the workspace survived, and a stopped container's URL is refused.
  r = c().Cli("alice", "jupyter url nb");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  r = c().Cli("alice", "jupyter create --name nb --cpu 1 --memory 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ParsedUrl again = ParseUrl(Json(r)["url"].get<std::string>());
  httplib::Client http2("127.0.0.1", again.port);
  // A new container, a new token; the old one does not open it.
  EXPECT_NE(again.token, u.token);
  auto old_token = http2.Get("/api/contents", auth);
  ASSERT_TRUE(old_token);
  EXPECT_EQ(old_token->status, 403);
  auto listing2 = http2.Get("/api/contents", {{"Authorization", "token " + again.token}});
  ASSERT_TRUE(listing2);
  EXPECT_THAT(listing2->body, HasSubstr("hello.txt"));
  r = c().Cli("alice", "jupyter stop nb --wait");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// The notebook follows its owner's current users row (docs/security.md): rotating the owner's
// API token, or disabling the owner, locks a running notebook within a second, for the
// token in the URL and for the login cookie it set alike; the URL asked for with the new
// token works again.
TEST_F(JupyterE2E, RotatedOrDisabledOwnerIsLockedOutWithinASecond) {
  CommandResult r = c().Cli("dave", "jupyter create --name locked --cpu 1 --memory 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ParsedUrl u = ParseUrl(Json(r)["url"].get<std::string>());
  ASSERT_GT(u.port, 0) << r.output;
  httplib::Client http("127.0.0.1", u.port);
  const httplib::Headers by_token = {{"Authorization", "token " + u.token}};
  auto ok = http.Get("/api/contents", by_token);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  // The ?token= request sets the login cookie a browser would keep.
  auto login = http.Get(absl::StrCat("/api/contents?token=", u.token).c_str());
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200);
  std::string cookie = login->get_header_value("Set-Cookie");
  cookie = cookie.substr(0, cookie.find(';'));
  ASSERT_FALSE(cookie.empty());
  const httplib::Headers by_cookie = {{"Cookie", cookie}};
  auto with_cookie = http.Get("/api/contents", by_cookie);
  ASSERT_TRUE(with_cookie);
  ASSERT_EQ(with_cookie->status, 200);

  // Milliseconds from now until a request with `headers` is refused (403), at most 5 s.
  auto ms_until_refused = [&](const httplib::Headers& headers) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
      auto res = http.Get("/api/contents", headers);
      if (res && res->status == 403) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
  };

  // The admin rotates dave's token (by SQL, as an admin may).
  c().db().Exec(
      "UPDATE users SET token_hash = encode(sha256('dave-token-2'), 'hex') "
      "WHERE user_name = 'dave'");
  EXPECT_LE(ms_until_refused(by_token), 1000);
  EXPECT_LE(ms_until_refused(by_cookie), 1000);
  // The URL asked for with the new token opens it; the old token stays refused.
  r = c().Cli("dave", "jupyter url locked", {{"HAI_TOKEN", "dave-token-2"}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ParsedUrl renewed = ParseUrl(r.output.substr(0, r.output.find('\n')));
  ASSERT_EQ(renewed.token.size(), 64u) << r.output;
  EXPECT_NE(renewed.token, u.token);
  const httplib::Headers by_new_token = {{"Authorization", "token " + renewed.token}};
  auto reopened = http.Get("/api/contents", by_new_token);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->status, 200);
  auto old = http.Get("/api/contents", by_token);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 403);

  // Disabling dave locks it too.
  c().db().Exec("UPDATE users SET active = false WHERE user_name = 'dave'");
  EXPECT_LE(ms_until_refused(by_new_token), 1000);

  c().db().Exec(
      "UPDATE users SET active = true, token_hash = encode(sha256('dave-token'), 'hex') "
      "WHERE user_name = 'dave'");
  ExpectOk(c().Cli("dave", "jupyter stop locked --wait"));
}

TEST_F(JupyterE2E, QuotaLimitsAreEnforcedAndNamed) {
  // alice: 2 cores per container, 4 GiB and 1 GPU in total.
  CommandResult r = c().Cli("alice", "jupyter create --name big --cpu 3 --memory 1 --no-wait");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("jupyter:jupyter:cpu"));
  r = c().Cli("alice", "jupyter create --name big --cpu 1 --memory 5 --no-wait");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("jupyter:jupyter:memory_gib"));
  r = c().Cli("alice", "jupyter create --name big --cpu 1 --memory 1 --gpus 2 --no-wait");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("jupyter:jupyter:gpus"));
  // keep-alive needs its own quota, which alice has not.
  r = c().Cli("alice", "jupyter create --name big --cpu 1 --memory 1 --keep-alive --no-wait");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("jupyter:jupyter:keep_alive"));

  // bob has the packed form: one container. The second is refused naming the count limit.
  r = c().Cli("bob", "jupyter create --name one --cpu 1 --memory 1 --no-wait");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = c().Cli("bob", "jupyter create --name two --cpu 1 --memory 1 --no-wait");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("jupyter:jupyter:containers"));
  // A jupyter container never lands on a training group.
  r = c().Cli("bob", "jupyter create --name two -g default --cpu 1 --memory 1 --no-wait");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("training group"));
  r = c().Cli("bob", "jupyter stop one --wait");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Stopped containers free the count.
  r = c().Cli("bob", "jupyter create --name two --cpu 1 --memory 1 --no-wait");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = c().Cli("bob", "jupyter stop two --wait");
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // Concurrent creates cannot both pass the count limit of 1 (the quota is checked in the
  // inserting transaction under a per-user lock).
  const std::string cli = BinDir() + "/hai-cli";
  r = c().Cli("bob", absl::StrCat("jupyter create --name r1 --cpu 1 --memory 1 --no-wait & ", cli,
                                  " jupyter create --name r2 --cpu 1 --memory 1 --no-wait & ", cli,
                                  " jupyter create --name r3 --cpu 1 --memory 1 --no-wait; "
                                  "wait"));
  EXPECT_EQ(c().db().Query("SELECT count(*) FROM chains WHERE user_name = 'bob' AND kind = "
                           "'jupyter' AND final_state IS NULL"),
            "1")
      << r.output;
  EXPECT_THAT(r.output, HasSubstr("jupyter:jupyter:containers")) << r.output;
  const std::string winner = c().db().Query(
      "SELECT name FROM chains WHERE user_name = 'bob' AND kind = 'jupyter' AND final_state IS "
      "NULL");
  ExpectOk(c().Cli("bob", "jupyter stop " + winner + " --wait"));

  // A bad row (a packed value HAI's parser would crash on) is skipped and reported.
  c().db().Exec(
      "INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
      "('user', 'bob', 'jupyter:other', 4210)");
  EXPECT_TRUE(WaitFor(
      [&] {
        return c().Cli("root", "admin check").output.find("'jupyter:other' = 4210") !=
               std::string::npos;
      },
      10000))
      << c().Cli("root", "admin check").output;
  c().db().Exec("DELETE FROM quota WHERE resource = 'jupyter:other'");
}

TEST_F(JupyterE2E, AWaitingContainerSaysWhyAndStartsWhenANodeIsBack) {
  c().db().Exec("UPDATE hosts SET state = 'cordoned' WHERE jupyter");
  CommandResult r =
      c().Cli("bob", "jupyter create --name later --cpu 1 --memory 1 --no-wait --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const int64_t chain = AsInt(Json(r)["container"]["chain_id"]);
  // The reason shows in `hai-cli jupyter list` and in `hai-cli status` like a training task's.
  std::string reason;
  ASSERT_TRUE(WaitFor(
      [&] {
        CommandResult s = c().Cli("bob", absl::StrCat("status ", chain, " --json"));
        reason = Json(s).value("pending_reason", std::string());
        return !reason.empty();
      },
      10000));
  EXPECT_EQ(reason, "WAITING_FOR_NODES");
  r = c().Cli("bob", "jupyter list");
  EXPECT_THAT(r.output, HasSubstr("WAITING_FOR_NODES"));
  c().db().Exec("UPDATE hosts SET state = 'ready' WHERE jupyter");
  ASSERT_TRUE(WaitFor([&] { return c().Cli("bob", "jupyter url later").exit_code == 0; }, 30000))
      << State(chain);
  ExpectOk(c().Cli("bob", "jupyter stop later --wait"));
}

TEST_F(JupyterE2E, TrainingOfTheHighestTierCannotTakeItsNode) {
  CommandResult r = c().Cli("dave", "jupyter create --name keep --cpu 1 --memory 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const int64_t chain = AsInt(Json(r)["container"]["chain_id"]);
  const std::string node = Json(r)["container"]["node"].get<std::string>();
  const std::string script = c().WriteScript("spin.py", "import time\ntime.sleep(30)\n");
  // An EXTREME_HIGH task aimed at the jupyter group is refused at submit.
  r = c().Cli("dave", absl::StrCat("python ", script, " -- -p EXTREME_HIGH -g jupyter --name x"));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Jupyter"));
  // One as large as the whole cluster in the training group cannot fit there, and is never
  // placed on the jupyter nodes either.
  r = c().Cli("dave", absl::StrCat("python ", script, " -- -p EXTREME_HIGH -n 3 --name y"));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  // An EXTREME_HIGH task that fits runs on the training node beside the container.
  const int64_t train = c().Submit("dave", script, "-p EXTREME_HIGH");
  ASSERT_GT(train, 0);
  ASSERT_TRUE(WaitFor([&] { return State(train) == "running"; }, 20000)) << State(train);
  EXPECT_EQ(c().db().Query(absl::StrCat("SELECT string_agg(p.node, ',') FROM pods p JOIN "
                                        "attempts a USING (attempt_id) WHERE a.chain_id = ",
                                        train)),
            "node-0");
  // The container was never asked to suspend and still runs on its node.
  EXPECT_EQ(State(chain), "running");
  EXPECT_EQ(c().db().Query(absl::StrCat(
                "SELECT count(*) FROM attempts WHERE chain_id = ", chain,
                " AND (suspend_requested_at IS NOT NULL OR stop_requested_at IS NOT NULL)")),
            "0");
  EXPECT_EQ(PodPgid(chain) > 0, true);
  EXPECT_THAT(node, HasSubstr("jup-"));
  ExpectOk(c().Cli("dave", absl::StrCat("stop ", train)));
  ExpectOk(c().Cli("dave", "jupyter stop keep --wait"));
}

TEST_F(JupyterE2E, IdleContainersAreCulledUnlessKeptAliveOrInUse) {
  // carol is external: culled after 3 s without kernel activity or API requests.
  CommandResult idle = c().Cli("carol", "jupyter create --name idle --cpu 1 --memory 1 --json");
  ASSERT_EQ(idle.exit_code, 0) << idle.output;
  CommandResult kept =
      c().Cli("carol", "jupyter create --name kept --cpu 1 --memory 1 --keep-alive --json");
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  CommandResult busy = c().Cli("carol", "jupyter create --name busy --cpu 1 --memory 1 --json");
  ASSERT_EQ(busy.exit_code, 0) << busy.output;
  const int64_t idle_chain = AsInt(Json(idle)["container"]["chain_id"]);
  const int64_t kept_chain = AsInt(Json(kept)["container"]["chain_id"]);
  const int64_t busy_chain = AsInt(Json(busy)["container"]["chain_id"]);
  // "busy" is used through the notebook's own API the whole time: the server's
  // last_activity, reported by its manager, keeps it alive (haid sees no request for it).
  const ParsedUrl busy_url = ParseUrl(Json(busy)["url"].get<std::string>());
  httplib::Client busy_http("127.0.0.1", busy_url.port);
  // Use it every 0.5 s for twice the idle timeout (the condition never turns true).
  auto last_use = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  WaitFor(
      [&] {
        if (std::chrono::steady_clock::now() - last_use > std::chrono::milliseconds(500)) {
          auto r = busy_http.Get("/api/contents", {{"Authorization", "token " + busy_url.token}});
          EXPECT_TRUE(r && r->status == 200);
          last_use = std::chrono::steady_clock::now();
        }
        return false;
      },
      6000);
  // Without those requests it would have been culled by now; with them it still runs.
  EXPECT_EQ(State(busy_chain), "running");
  ASSERT_TRUE(WaitFor([&] { return State(idle_chain) == "stopped"; }, 20000))
      << State(idle_chain) << "\n"
      << c().DaemonLog();
  EXPECT_NE(c().db().Query(absl::StrCat(
                "SELECT server_activity_at IS NOT NULL FROM jupyter_containers WHERE chain_id = ",
                busy_chain)),
            "f");
  // Recorded as culled, with an event and the reason shown to the user.
  EXPECT_EQ(c().db().Query(absl::StrCat("SELECT count(*) FROM task_events WHERE chain_id = ",
                                        idle_chain, " AND kind = 'culled'")),
            "1");
  CommandResult list = c().Cli("carol", "jupyter list --finished --json");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  bool culled = false;
  const nlohmann::json containers = Json(list);
  for (const auto& ct : containers["containers"]) {
    if (AsInt(ct["chain_id"]) == idle_chain) {
      culled = ct.value("culled", false);
      EXPECT_THAT(ct.value("end_reason", std::string()), HasSubstr("idle"));
    }
  }
  EXPECT_TRUE(culled) << list.output;
  // The keep-alive container has been idle as long and still runs.
  EXPECT_EQ(State(kept_chain), "running");
  ExpectOk(c().Cli("carol", "jupyter stop kept --wait"));
  ExpectOk(c().Cli("carol", "jupyter stop busy --wait"));
}

}  // namespace
}  // namespace hai::testing
