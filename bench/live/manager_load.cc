// Thousands of running tasks on one haid (issue 17): N single-rank, single-GPU sleep tasks on
// N/8 local nodes of 8 GPUs, all running at once, then a wave of H HIGH tasks preempting H of
// them, then every task to its end. Each running attempt has its real hai-manager (reaching
// its rows through haid's manager API), its rank supervisor and the task's processes.
//
// Reports: time until all N run; RSS and PSS (/proc/<pid>/smaps_rollup) and threads of haid,
// of the managers (in total and per manager) and of the rank supervisors, with all N running;
// the peak of Postgres connections in use (pg_stat_activity, every backend of the server,
// sampled every 100 ms); scheduling pass p50/p99 (haid's last_pass gauge, read every 25 ms
// whenever the pass counter moved) while the N start and during the wave; suspend notice ->
// suspended (attempts.suspend_requested_at -> ended_at) p50/p99; and every chain's final
// state, with any attempt that failed.
//
// The task: `while [ ! -e MARKER ]; do sleep 20; done` (bash; one short-lived `sleep` per
// task every 20 s); the HIGH tasks sleep 20 s and exit. The victims do not call go_suspend:
// they are terminated after scheduler.suspend_grace_s (5 s here), ending 'suspended', and are
// requeued; they run again once the HIGH tasks are done.
//
// Usage: manager_load [--tasks N] [--high H] [--heartbeat-ms MS]   (defaults 2000 / 500 /
//        2000; needs HAI_PG_URL, HAI_REDIS_PORT, HAI_BIN_DIR like the tests; start Postgres with
//        max_connections = 50 for the setting, bench/README.md)
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/live/prometheus_text.h"
#include "hai/v1/task.grpc.pb.h"
#include "test/e2e/harness.h"

namespace {

using hai::testing::Cluster;
using hai::testing::MetricValue;
using hai::testing::WaitFor;
using Clock = std::chrono::steady_clock;

struct Options {
  int tasks = 2000;
  int high = 500;
  int heartbeat_ms = 2000;
};

struct Mem {
  int processes = 0;
  double rss_mib = 0;
  double pss_mib = 0;
  int threads = 0;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The number after "Key:" in /proc's status or smaps_rollup (kB for sizes, a count for Threads).
double Field(const std::string& text, const std::string& key) {
  std::regex re(key + ":\\s+([0-9]+)");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return 0;
  return std::stod(m[1]);
}

// haid, managers (`hai-manager ... --attempt`) and rank supervisors of this cluster.
std::map<std::string, Mem> MeasureMemory(pid_t haid, const std::string& config_path) {
  std::map<std::string, Mem> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    std::string kind;
    if (pid == haid) {
      kind = "haid";
    } else if (cmdline.find("hai-manager --rank-supervisor") != std::string::npos) {
      kind = "rank supervisor";
    } else if (cmdline.find("hai-manager --config " + config_path) != std::string::npos) {
      kind = "manager";
    } else {
      continue;
    }
    const std::string smaps = ReadFile(absl::StrCat("/proc/", pid, "/smaps_rollup"));
    const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
    if (kind == "rank supervisor" && smaps.empty()) continue;
    Mem& m = out[kind];
    ++m.processes;
    m.rss_mib += Field(smaps, "Rss") / 1024;
    m.pss_mib += Field(smaps, "Pss") / 1024;
    m.threads += static_cast<int>(Field(status, "Threads"));
  }
  ::closedir(d);
  return out;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int64_t Count(Cluster& c, const std::string& sql) {
  int64_t n = 0;
  (void)absl::SimpleAtoi(c.db().Query(sql), &n);
  return n;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A chain's state is its latest attempt's (chains has no state column).
constexpr char kChainStates[] =
    "(SELECT DISTINCT ON (chain_id) state FROM attempts ORDER BY chain_id, attempt_no DESC)";

int Run(const Options& opt) {
  const int nodes = (opt.tasks + 7) / 8;
  Cluster cluster(nodes, 8);
  // The harness's config already has suspend_grace_s = 5 (a second one is a TOML error).
  cluster.SetSchedulerKey("manager_timeout_s", "30");
  hai::testing::RunCommand(absl::StrCat("sed -i 's/^heartbeat_ms = .*/heartbeat_ms = ",
                                        opt.heartbeat_ms, "/' '", cluster.config_path(), "'"));
  const std::string config = ReadFile(cluster.config_path());
  std::smatch m;
  if (!std::regex_search(config, m, std::regex("grpc_listen = \"([^\"]+)\""))) return 1;
  const std::string target = m[1];
  if (!std::regex_search(config, m, std::regex("http_listen = \"127.0.0.1:([0-9]+)\""))) return 1;
  httplib::Client http("127.0.0.1", std::stoi(m[1]));
  http.set_read_timeout(10);

  cluster.AddUser("alice", "load-token");
  cluster.db().Exec("UPDATE quota SET quota = 1000000");
  const std::string marker = cluster.dir() + "/go";
  const std::string waiter = cluster.WriteScript(
      "wait.sh", absl::StrCat("#!/bin/bash\nwhile [ ! -e '", marker, "' ]; do sleep 20; done\n"));
  const std::string high = cluster.WriteScript("high.sh", "#!/bin/bash\nsleep 20\n");
  cluster.StartDaemon();
  const pid_t haid = cluster.haid_pid();

  // Samplers: Postgres connections (every backend of the server), and haid's pass times.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> peak_connections{0};
  std::mutex mu;
  std::vector<double> passes_ms;  // the current phase's
  std::thread connections([&] {
    auto conn = cluster.db().Connect();
    while (!stop) {
      try {
        pqxx::nontransaction tx(*conn);
        const int64_t n =
            tx.exec("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
                [0][0]
                    .as<int64_t>();
        peak_connections = std::max<int64_t>(peak_connections, n);
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::thread passes([&] {
    double last_count = -1;
    while (!stop) {
      auto res = http.Get("/metrics");
      if (res && res->status == 200) {
        const double count = MetricValue(res->body, "hai_scheduler_passes_total");
        if (count != last_count && last_count >= 0) {
          std::lock_guard<std::mutex> lock(mu);
          passes_ms.push_back(MetricValue(res->body, "hai_scheduler_last_pass_seconds") * 1000);
        }
        last_count = count;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });
  auto take_passes = [&] {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<double> out;
    out.swap(passes_ms);
    return out;
  };

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = hai::v1::TaskService::NewStub(channel);
  auto submit = [&](const std::string& name, const std::string& script,
                    hai::v1::Priority priority) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer load-token");
    hai::v1::SubmitRequest req;
    req.set_name(name);
    req.set_entrypoint(script);
    req.set_kind("bash");
    req.set_nodes(1);
    req.set_gpus_per_node(1);
    req.set_priority(priority);
    hai::v1::SubmitResponse resp;
    grpc::Status s = stub->Submit(&ctx, req, &resp);
    if (!s.ok()) std::fprintf(stderr, "submit %s: %s\n", name.c_str(), s.error_message().c_str());
    return s.ok();
  };

  // ---- N tasks, until all run at once
  const auto t0 = Clock::now();
  for (int i = 0; i < opt.tasks; ++i) {
    if (!submit(absl::StrCat("n", i), waiter, hai::v1::PRIORITY_NORMAL)) return 1;
  }
  const double submitted_s = Seconds(t0);
  const std::string running_sql = "SELECT count(*) FROM attempts WHERE state = 'running'";
  int64_t last = -1;
  auto progress = Clock::now();
  const bool all_running = WaitFor(
                               [&] {
                                 const int64_t n = Count(cluster, running_sql);
                                 if (n != last) progress = Clock::now();
                                 last = n;
                                 // Give up once nothing moved for 5 minutes.
                                 return n >= opt.tasks || Seconds(progress) > 300;
                               },
                               3600 * 1000) &&
                           last >= opt.tasks;
  const double all_running_s = Seconds(t0);
  const std::vector<double> start_passes = take_passes();
  std::printf("tasks %d on %d nodes x 8 GPUs, heartbeat %d ms\n", opt.tasks, nodes,
              opt.heartbeat_ms);
  std::printf("submitted in %.1f s; %s running after %.1f s\n", submitted_s,
              all_running ? "all" : absl::StrCat("only ", last).c_str(), all_running_s);
  // Let the managers settle into their heartbeats before measuring memory.
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const auto mem = MeasureMemory(haid, cluster.config_path());
  for (const auto& [kind, v] : mem) {
    std::printf(
        "%-16s %5d processes  RSS %8.1f MiB (%.2f each)  PSS %8.1f MiB (%.2f each)  "
        "threads %d\n",
        kind.c_str(), v.processes, v.rss_mib, v.rss_mib / v.processes, v.pss_mib,
        v.pss_mib / v.processes, v.threads);
  }
  const std::vector<double> steady_passes = take_passes();
  std::printf("passes while starting: %zu, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              start_passes.size(), Percentile(start_passes, 0.5), Percentile(start_passes, 0.99),
              Percentile(start_passes, 1.0));
  std::printf("passes with all running: %zu, p50 %.1f ms, p99 %.1f ms\n", steady_passes.size(),
              Percentile(steady_passes, 0.5), Percentile(steady_passes, 0.99));

  // ---- the wave: H HIGH tasks preempt H of them
  const auto w0 = Clock::now();
  for (int i = 0; i < opt.high; ++i) {
    if (!submit(absl::StrCat("h", i), high, hai::v1::PRIORITY_HIGH)) return 1;
  }
  const bool wave_running = WaitFor(
      [&] {
        return Count(cluster,
                     "SELECT count(*) FROM attempts a JOIN chains c USING (chain_id) "
                     "WHERE c.name LIKE 'h%' AND a.state IN ('running','succeeded')") >= opt.high;
      },
      1800 * 1000);
  std::printf("wave: %d HIGH %s running after %.1f s\n", opt.high, wave_running ? "all" : "NOT all",
              Seconds(w0));
  const std::vector<double> wave_passes = take_passes();
  std::printf("passes during the wave: %zu, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              wave_passes.size(), Percentile(wave_passes, 0.5), Percentile(wave_passes, 0.99),
              Percentile(wave_passes, 1.0));
  std::vector<double> suspend_s;
  for (const std::string& v : cluster.db().Column(
           "SELECT extract(epoch FROM ended_at - suspend_requested_at) FROM attempts "
           "WHERE state = 'suspended' AND suspend_requested_at IS NOT NULL")) {
    double x = 0;
    if (absl::SimpleAtod(v, &x)) suspend_s.push_back(x);
  }
  std::printf(
      "suspended %zu: notice -> suspended p50 %.2f s, p99 %.2f s, max %.2f s "
      "(grace 5 s)\n",
      suspend_s.size(), Percentile(suspend_s, 0.5), Percentile(suspend_s, 0.99),
      Percentile(suspend_s, 1.0));

  // ---- everything to its end
  hai::testing::RunCommand("touch " + marker);
  const auto e0 = Clock::now();
  const bool all_final = WaitFor(
      [&] {
        return Count(cluster,
                     absl::StrCat("SELECT count(*) FROM ", kChainStates,
                                  " c WHERE state NOT IN ('succeeded','failed','stopped')")) == 0;
      },
      3600 * 1000);
  std::printf("all chains %s %.1f s after the marker\n", all_final ? "final" : "NOT final",
              Seconds(e0));
  stop = true;
  connections.join();
  passes.join();
  std::printf("peak Postgres connections (client backends, whole server): %lld\n",
              static_cast<long long>(peak_connections.load()));
  for (const std::string& row : cluster.db().Column(
           absl::StrCat("SELECT state || ' ' || count(*) FROM ", kChainStates,
                        " c GROUP BY state ORDER BY state"))) {
    std::printf("chains %s\n", row.c_str());
  }
  for (const std::string& row : cluster.db().Column(
           "SELECT state || ' ' || count(*) FROM attempts GROUP BY state ORDER BY state")) {
    std::printf("attempts %s\n", row.c_str());
  }
  for (const std::string& row :
       cluster.db().Column("SELECT attempt_id || ': ' || coalesce(end_reason, '') FROM attempts "
                           "WHERE state = 'failed' LIMIT 20")) {
    std::printf("failed attempt %s\n", row.c_str());
  }
  return all_running && wave_running && all_final ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each figure reaches a redirected log at once
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    int v = 0;
    if (!absl::SimpleAtoi(argv[i + 1], &v) || v < 0) {
      std::fprintf(stderr, "bad value for %s\n", flag.c_str());
      return 2;
    }
    if (flag == "--tasks") {
      opt.tasks = v;
    } else if (flag == "--high") {
      opt.high = v;
    } else if (flag == "--heartbeat-ms") {
      opt.heartbeat_ms = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  return Run(opt);
}
