// haid at scale (issue 7): resident memory and scheduling-cycle time with many nodes and a
// long queue loaded, and recovery time of a restarted haid over a large history.
//
// The data set is written straight into a fresh migrated database by SQL (generate_series;
// the way an existing installation would look, not the way it got there):
//   - N hosts in group `default`, 8 GPUs each, 32 per switch, 8 switches per room;
//   - R running attempts (NORMAL) holding whole nodes, with a pods row per rank and a manager
//     pid that is alive (this process) and a fresh heartbeat (manager_timeout_s is set high),
//     so haid adopts them as running and starts no managers;
//   - Q queued attempts (NORMAL, 1,000 users): 60 % one whole node, 25 % packed 1/2/4 GPUs,
//     15 % 2-16 node gangs; nothing fits, and the same tier cannot preempt, so every pass
//     decides the whole queue and writes nothing: the steady-state cost of a pass;
//   - F finished chains with one succeeded attempt each (the history a restart must skip).
// Then, for each of K restarts: start haid, time start -> first completed pass (process
// spawn, connect, full load of the open attempts, first decision), sample P further passes
// (haid's own last_pass / last_decide / last_load gauges on /metrics) and haid's VmRSS and
// VmHWM from /proc, SIGKILL it (as a crash would) and start the next.
//
// Usage: scale_load [--nodes N] [--queued Q] [--running R] [--finished F] [--passes P]
//                   [--restarts K]        (defaults: the 10,000 / 100,000 / 9,000 /
//                                          1,000,000 / 10 / 3; needs HAI_PG_URL,
//                                          HAI_REDIS_PORT, HAI_BIN_DIR like the tests)
// Exit status 1 when haid fails to come up or to pass.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/live/prometheus_text.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t nodes = 10000;
  int64_t queued = 100000;
  int64_t running = 9000;
  int64_t finished = 1000000;
  int passes = 10;
  int restarts = 3;
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// kB value of a /proc/<pid>/status field, or -1.
int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      int64_t kb = -1;
      std::istringstream(line.substr(field.size() + 1)) >> kb;
      return kb;
    }
  }
  return -1;
}

// The haid process serving this cluster's config (the harness does not expose its pid).
pid_t FindHaid(const std::string& config_path) {
  DIR* d = opendir("/proc");
  if (d == nullptr) return -1;
  pid_t found = -1;
  while (dirent* e = readdir(d)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find("/haid ") != std::string::npos && cmd.find(config_path) != std::string::npos &&
        cmd.find("hai-manager") == std::string::npos) {
      found = pid;
    }
  }
  closedir(d);
  return found;
}

void Generate(Cluster& c, const Options& o) {
  const auto t0 = Clock::now();
  const std::string me = absl::StrCat(getpid());
  // Per-row NOTIFY of a bulk load is pointless (no haid runs yet) and slow.
  c.db().Exec("ALTER TABLE attempts DISABLE TRIGGER attempts_notify");
  c.db().Exec(
      "INSERT INTO users (user_name, role, token_hash) "
      "SELECT 'user' || i, 'internal', encode(sha256(('scale-' || i)::bytea), 'hex') FROM "
      "generate_series(0, 999) i;"
      "UPDATE quota SET quota = 1000000;"
      // haid registers its config node at start but keeps an admin's state: cordoned, so
      // nothing starts a real manager.
      "INSERT INTO hosts (node, node_group, gpus, state, origin) "
      "VALUES ('node-0', 'default', 8, 'cordoned', 'config')");
  c.db().Exec(
      absl::StrCat("INSERT INTO hosts (node, node_group, gpus, room, switch) "
                   "SELECT 'n' || lpad(i::text, 6, '0'), 'default', 8, 'room' || (i / 256), "
                   "'sw' || (i / 32) FROM generate_series(0, ",
                   o.nodes - 1, ") i"));
  // Finished history: one succeeded attempt per chain.
  if (o.finished > 0) {
    c.db().Exec(absl::StrCat(
        "INSERT INTO chains (name, user_name, node_group, priority, nodes, entrypoint, "
        "first_submit_at, final_state, finished_at) "
        "SELECT 'done-' || i, 'user' || (i % 1000), 'default', 10, 1, '/bin/true', "
        "now() - interval '30 days' + i * interval '1 second', 'succeeded', now() "
        "FROM generate_series(1, ",
        o.finished, ") i;",
        "INSERT INTO attempts (chain_id, attempt_no, state, tier, queued_at, scheduled_at, "
        "started_at, ended_at, end_reason, exit_code) "
        "SELECT chain_id, 0, 'succeeded', 10, first_submit_at, first_submit_at, "
        "first_submit_at, finished_at, 'exit 0', 0 FROM chains WHERE final_state IS NOT NULL"));
  }
  // Running: whole nodes n000000.. held by attempts whose "manager" is this process.
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
      "UPDATE hosts SET state = 'cordoned', state_reason = 'scale_load' "
      "WHERE node >= 'n' || lpad('",
      o.running, "', 6, '0');",
      "INSERT INTO chains (name, user_name, node_group, priority, nodes, gpus_per_node, "
      "entrypoint, first_submit_at) "
      "SELECT 'q-' || i, 'user' || (i % 1000), 'default', 10, "
      "CASE WHEN i % 20 < 12 THEN 1 WHEN i % 20 < 17 THEN 1 ELSE 2 + i % 15 END, "
      "CASE WHEN i % 20 BETWEEN 12 AND 16 THEN (ARRAY[1,2,4])[1 + i % 3] ELSE 0 END, "
      "'/bin/true', now() - interval '1 day' + i * interval '1 millisecond' "
      "FROM generate_series(0, ",
      o.queued - 1, ") i;",
      "INSERT INTO attempts (chain_id, attempt_no, state, tier, queued_at) "
      "SELECT chain_id, 0, 'queued', 10, first_submit_at FROM chains WHERE name LIKE 'q-%';"));
  c.db().Exec("ALTER TABLE attempts ENABLE TRIGGER attempts_notify; ANALYZE;");
  std::printf("generated %ld nodes, %ld running, %ld queued, %ld finished in %.1f s\n",
              static_cast<long>(o.nodes), static_cast<long>(o.running), static_cast<long>(o.queued),
              static_cast<long>(o.finished), Seconds(t0));
  std::fflush(stdout);
}

int Run(const Options& o) {
  Cluster cluster(1, 8, "");
  cluster.SetSchedulerKey("manager_timeout_s", "86400");  // the "managers" are this process
  cluster.SetSchedulerKey("preemption", "false");
  std::smatch m;
  std::string config;
  {
    std::ifstream in(cluster.config_path());
    config.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  if (!std::regex_search(config, m, std::regex("http_listen = \"127.0.0.1:([0-9]+)\""))) {
    std::fprintf(stderr, "no http_listen in %s\n", cluster.config_path().c_str());
    return 1;
  }
  const int http_port = std::stoi(m[1]);
  Generate(cluster, o);
  httplib::Client http("127.0.0.1", http_port);
  auto metrics = [&]() -> std::string {
    auto res = http.Get("/metrics");
    return res && res->status == 200 ? res->body : "";
  };

  std::printf("%8s %10s %10s %10s %10s %10s %10s %9s %9s\n", "restart", "start->1st", "pass p50",
              "pass max", "decide p50", "load p50", "refresh", "RSS MB", "HWM MB");
  for (int k = 0; k < o.restarts; ++k) {
    const auto t0 = Clock::now();
    cluster.StartDaemon();  // returns once /readyz is 200: after the first completed pass
    if (::testing::Test::HasFailure()) return 1;
    // /readyz polls every 50 ms; the first pass's own end is the exact figure.
    const double ready_s = Seconds(t0);
    const pid_t pid = FindHaid(cluster.config_path());
    std::string text = metrics();
    const double first_pass_s = MetricValue(text, "hai_scheduler_last_pass_seconds");
    double passes = MetricValue(text, "hai_scheduler_passes_total");
    const double queued = MetricValue(text, "hai_attempts_queued");
    const double running = MetricValue(text, "hai_attempts_running");
    std::vector<double> pass, decide, load, rows;
    const auto deadline = Clock::now() + std::chrono::seconds(60 + 5 * o.passes);
    while (static_cast<int>(pass.size()) < o.passes && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      text = metrics();
      const double n = MetricValue(text, "hai_scheduler_passes_total");
      if (n <= passes) continue;
      passes = n;
      pass.push_back(MetricValue(text, "hai_scheduler_last_pass_seconds") * 1000);
      decide.push_back(MetricValue(text, "hai_scheduler_last_decide_seconds") * 1000);
      load.push_back(MetricValue(text, "hai_scheduler_last_load_seconds") * 1000);
      rows.push_back(MetricValue(text, "hai_scheduler_last_refresh_rows"));
    }
    if (pass.empty()) {
      std::fprintf(stderr, "haid did not pass again:\n%s\n", cluster.DaemonLog().c_str());
      return 1;
    }
    const int64_t rss = pid > 0 ? ProcStatusKb(pid, "VmRSS") : -1;
    const int64_t hwm = pid > 0 ? ProcStatusKb(pid, "VmHWM") : -1;
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::printf("%8d %9.2fs %8.1fms %8.1fms %8.1fms %8.1fms %10.0f %9.1f %9.1f\n", k, ready_s,
                median(pass), *std::max_element(pass.begin(), pass.end()), median(decide),
                median(load), median(rows), static_cast<double>(rss) / 1024,
                static_cast<double>(hwm) / 1024);
    // haid logs how long the full load of the open attempts took.
    // And, for a pass over the cycle budget, where its time went.
    std::string loaded, slow;
    {
      std::istringstream log(cluster.DaemonLog());
      for (std::string line; std::getline(log, line);) {
        const size_t at = line.find("loaded ");
        if (at != std::string::npos && line.find("open attempt") != std::string::npos) {
          loaded = line.substr(at);
        }
        if (const size_t s = line.find("slow pass: "); s != std::string::npos) {
          slow = line.substr(s);
        }
      }
    }
    if (!slow.empty()) std::printf("         (last %s)\n", slow.c_str());
    std::printf(
        "         (first pass itself %.0f ms, of which %s; haid sees %.0f queued, %.0f "
        "running)\n",
        first_pass_s * 1000, loaded.c_str(), queued, running);
    std::fflush(stdout);
    if (queued != static_cast<double>(o.queued) || running != static_cast<double>(o.running)) {
      std::fprintf(stderr, "haid loaded %.0f queued / %.0f running, expected %ld / %ld\n", queued,
                   running, static_cast<long>(o.queued), static_cast<long>(o.running));
      return 1;
    }
    cluster.KillDaemon();
  }
  return 0;
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
                   "usage: scale_load [--nodes N] [--queued Q] [--running R] [--finished F] "
                   "[--passes P] [--restarts K]   (non-negative integers)\n");
      return 2;
    }
    ++i;
    if (a == "--nodes")
      o.nodes = v;
    else if (a == "--queued")
      o.queued = v;
    else if (a == "--running")
      o.running = v;
    else if (a == "--finished")
      o.finished = v;
    else if (a == "--passes")
      o.passes = static_cast<int>(std::max<int64_t>(v, 1));
    else if (a == "--restarts")
      o.restarts = static_cast<int>(std::max<int64_t>(v, 1));
    else {
      std::fprintf(stderr, "scale_load: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.running > o.nodes || o.nodes < 1 || o.nodes > 999999) {
    std::fprintf(stderr, "scale_load: need 1 <= nodes <= 999999 and running <= nodes\n");
    return 2;
  }
  return hai::testing::Run(o);
}
