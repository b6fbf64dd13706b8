// Dashboard latency (issue 19): how long a state change takes to show in an open browser,
// with N nodes and Q queued tasks loaded. The data set is scale_load's (SQL straight into a
// fresh migrated database): N hosts of 8 GPUs, R of them held by running attempts whose
// "manager" is this process, Q queued attempts that do not fit, 1,000 users. Then haid
// starts, and dashboard_latency.js (puppeteer-core, Debian's chromium) signs an admin in to
// the cluster map (every node and GPU) and, K times, cordons or uncordons a node through
// the JSON API and times from just before that call to the moment the open map shows the
// node's new state (the path: Postgres NOTIFY -> haid's listener -> event hub -> SSE ->
// page refetches /api/v1/nodes -> re-render). Prints p50, p90, p99 and max.
//
// Usage: dashboard_latency [--nodes N] [--queued Q] [--running R] [--changes K]
//        (defaults 1,000 / 10,000 / 500 / 100; needs HAI_PG_URL, HAI_REDIS_PORT, HAI_BIN_DIR
//        like the tests, and the browser packages: ctest -R browser_test_install)
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

struct Options {
  int64_t nodes = 1000;
  int64_t queued = 10000;
  int64_t running = 500;
  int64_t changes = 100;
};

void Generate(Cluster& c, const Options& o) {
  const std::string me = absl::StrCat(getpid());
  c.db().Exec("ALTER TABLE attempts DISABLE TRIGGER attempts_notify");
  c.db().Exec(
      "INSERT INTO users (user_name, role, token_hash) "
      "SELECT 'user' || i, 'internal', encode(sha256(('scale-' || i)::bytea), 'hex') FROM "
      "generate_series(0, 999) i;"
      "UPDATE quota SET quota = 1000000;"
      "INSERT INTO hosts (node, node_group, gpus, state, origin) "
      "VALUES ('node-0', 'default', 8, 'cordoned', 'config')");
  c.db().Exec(
      absl::StrCat("INSERT INTO hosts (node, node_group, gpus, room, switch) "
                   "SELECT 'n' || lpad(i::text, 6, '0'), 'default', 8, 'room' || (i / 256), "
                   "'sw' || (i / 32) FROM generate_series(0, ",
                   o.nodes - 1, ") i"));
  if (o.running > 0) {
    c.db().Exec(absl::StrCat(
        "INSERT INTO chains (name, user_name, node_group, priority, nodes, entrypoint, "
        "first_submit_at) SELECT 'run-' || i, 'user' || (i % 1000), 'default', 10, 1, "
        "'/bin/true', now() - interval '2 days' FROM generate_series(0, ",
        o.running - 1, ") i;",
        "INSERT INTO attempts (chain_id, attempt_no, state, tier, queued_at, scheduled_at, "
        "started_at, manager_pid, manager_host, manager_heartbeat_at) "
        "SELECT chain_id, 0, 'running', 10, first_submit_at, first_submit_at, now() - "
        "interval '1 day', ",
        me, ", 'bench', now() FROM chains WHERE name LIKE 'run-%';",
        "INSERT INTO pods (attempt_id, rank, node, gpus, state) "
        "SELECT a.attempt_id, 0, 'n' || lpad(substr(c.name, 5), 6, '0'), "
        "'{0,1,2,3,4,5,6,7}', 'running' FROM attempts a JOIN chains c USING (chain_id) "
        "WHERE c.name LIKE 'run-%'"));
  }
  // Queued: nothing fits (the free nodes are cordoned) and the tier is the running one's.
  c.db().Exec(absl::StrCat(
      "UPDATE hosts SET state = 'cordoned', state_reason = 'dashboard_latency' "
      "WHERE node >= 'n' || lpad('",
      o.running, "', 6, '0');",
      "INSERT INTO chains (name, user_name, node_group, priority, nodes, gpus_per_node, "
      "entrypoint, first_submit_at) "
      "SELECT 'q-' || i, 'user' || (i % 1000), 'default', 10, 1 + i % 4, 0, "
      "'/bin/true', now() - interval '1 day' + i * interval '1 millisecond' "
      "FROM generate_series(0, ",
      o.queued - 1, ") i;",
      "INSERT INTO attempts (chain_id, attempt_no, state, tier, queued_at) "
      "SELECT chain_id, 0, 'queued', 10, first_submit_at FROM chains WHERE name LIKE 'q-%';"));
  c.db().Exec("ALTER TABLE attempts ENABLE TRIGGER attempts_notify; ANALYZE;");
}

int Run(const Options& o) {
  Cluster cluster(1, 8, "");
  cluster.SetSchedulerKey("manager_timeout_s", "86400");  // the "managers" are this process
  cluster.SetSchedulerKey("preemption", "false");
  cluster.AddUser("root", "bench-admin-token", "admin");
  if (::testing::Test::HasFailure()) return 1;
  Generate(cluster, o);
  cluster.StartDaemon();
  if (::testing::Test::HasFailure()) return 1;
  std::printf("%ld nodes (%ld held by running tasks), %ld queued tasks\n",
              static_cast<long>(o.nodes), static_cast<long>(o.running),
              static_cast<long>(o.queued));
  std::fflush(stdout);
  const CommandResult r = RunCommand(
      absl::StrCat("node ", HAI_SOURCE_DIR, "/bench/live/dashboard_latency.js 2>&1"),
      {{"NODE_PATH", std::string(HAI_NODE_MODULES)},
       {"HAI_DASH_URL", absl::StrCat("http://127.0.0.1:", cluster.http_port())},
       {"HAI_ADMIN_TOKEN", "bench-admin-token"},
       {"HAI_NODES", std::to_string(o.running > 0 ? std::min<int64_t>(o.running, 50) : 1)},
       {"HAI_CHANGES", std::to_string(o.changes)}});
  std::fputs(r.output.c_str(), stdout);
  return r.exit_code == 0 ? 0 : 1;
}

}  // namespace
}  // namespace hai::testing

int main(int argc, char** argv) {
  hai::testing::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    int64_t v = 0;
    if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], &v) || v < 0) {
      std::fprintf(stderr,
                   "usage: dashboard_latency [--nodes N] [--queued Q] [--running R] "
                   "[--changes K]   (non-negative integers)\n");
      return 2;
    }
    ++i;
    if (a == "--nodes") {
      o.nodes = v;
    } else if (a == "--queued") {
      o.queued = v;
    } else if (a == "--running") {
      o.running = v;
    } else if (a == "--changes") {
      o.changes = std::max<int64_t>(v, 1);
    } else {
      std::fprintf(stderr, "dashboard_latency: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.running > o.nodes || o.nodes < 1 || o.nodes > 999999) {
    std::fprintf(stderr, "dashboard_latency: need 1 <= nodes <= 999999 and running <= nodes\n");
    return 2;
  }
  return hai::testing::Run(o);
}
