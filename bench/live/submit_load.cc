// Submit throughput and latency of the live system (issue 7), against the Postgres it runs on.
//
// A real haid (started by the e2e harness on a fresh migrated database in the Postgres of
// scripts/services.sh) takes TaskService.Submit from N concurrent gRPC clients, each with its
// own channel, for a fixed time per level. Its nodes are cordoned, so every task queues: the
// figure is the cost of accepting work (auth, validation, the chain + attempt + event
// insert, the reply) while the scheduling loop keeps deciding over the growing queue, not the
// cost of starting processes. In the same run and at the same concurrency, N threads with
// one connection each do plain single-row INSERTs (autocommit) into a scratch table of the
// same database: the raw rate this Postgres allows. The ratio submits/s : inserts/s says how
// much of the database's capacity a submit leaves on the table.
//
// Between levels the queued chains are ended by SQL so every level starts from an empty queue.
//
// Usage: submit_load [--seconds S] [--clients 1,8,32,128] [--pool N]
//   (needs HAI_PG_URL, HAI_REDIS_PORT and HAI_BIN_DIR like the tests; see bench/README.md)
// Exit status 1 when any submit failed.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "hai/v1/task.grpc.pb.h"
#include "bench/live/prometheus_text.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  double seconds = 5;
  std::vector<int> clients = {1, 8, 32, 128};
  int pool = 32;
};

struct LevelResult {
  int64_t ops = 0;
  int64_t errors = 0;
  double elapsed_s = 0;
  std::vector<double> latencies_ms;
  std::string first_error;
  double rate() const { return elapsed_s > 0 ? static_cast<double>(ops) / elapsed_s : 0; }
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Runs `op(thread, i)` on `threads` threads until `seconds` pass; op returns "" on success or
// the error text. Latency of every call is recorded.
template <typename Op>
LevelResult RunLevel(int threads, double seconds, Op op) {
  std::vector<std::vector<double>> lat(threads);
  std::vector<int64_t> errors(threads, 0);
  std::vector<std::string> first_error(threads);
  std::atomic<bool> go{false};
  const auto duration = std::chrono::duration<double>(seconds);
  Clock::time_point start;
  std::vector<std::thread> pool;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      const auto end = start + duration;
      for (int64_t i = 0; Clock::now() < end; ++i) {
        const auto t0 = Clock::now();
        std::string err = op(t, i);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (err.empty()) {
          lat[t].push_back(ms);
        } else {
          if (errors[t]++ == 0) first_error[t] = err;
        }
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  start = Clock::now();
  go.store(true);
  for (auto& th : pool) th.join();
  LevelResult r;
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  for (int t = 0; t < threads; ++t) {
    r.ops += static_cast<int64_t>(lat[t].size());
    r.errors += errors[t];
    r.latencies_ms.insert(r.latencies_ms.end(), lat[t].begin(), lat[t].end());
    if (r.first_error.empty()) r.first_error = first_error[t];
  }
  return r;
}

// One raw level: `threads` connections doing autocommit single-row inserts.
LevelResult RawInserts(const std::string& url, int threads, double seconds) {
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int t = 0; t < threads; ++t) {
    conns.push_back(std::make_unique<pqxx::connection>(url));
    conns.back()->prepare("ins", "INSERT INTO bench_raw_insert (client, payload) VALUES ($1, $2)");
  }
  return RunLevel(threads, seconds, [&](int t, int64_t i) -> std::string {
    try {
      pqxx::nontransaction tx(*conns[t]);
      tx.exec_prepared("ins", t, absl::StrCat("row-", i));
      return "";
    } catch (const std::exception& e) {
      return e.what();
    }
  });
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

int Run(const Options& opt) {
  constexpr int kUsers = 8;
  Cluster cluster(4, 8, "");
  // The harness writes pool_size = 4; a load test gives haid a pool sized like the clients
  // it serves (the raw baseline gets one connection per thread).
  std::string config;
  {
    std::ifstream in(cluster.config_path());
    std::stringstream ss;
    ss << in.rdbuf();
    config = Replace(ss.str(), "pool_size = 4", absl::StrCat("pool_size = ", opt.pool));
  }
  std::ofstream(cluster.config_path()) << config;
  std::smatch m;
  if (!std::regex_search(config, m, std::regex("grpc_listen = \"([^\"]+)\""))) {
    std::fprintf(stderr, "no grpc_listen in %s\n", cluster.config_path().c_str());
    return 1;
  }
  const std::string target = m[1];
  if (!std::regex_search(config, m, std::regex("http_listen = \"127.0.0.1:([0-9]+)\""))) {
    std::fprintf(stderr, "no http_listen in %s\n", cluster.config_path().c_str());
    return 1;
  }
  httplib::Client http("127.0.0.1", std::stoi(m[1]));
  // Under full load the side port may answer slowly; a missed read would zero the counts.
  http.set_connection_timeout(10);
  http.set_read_timeout(10);
  // haid's pass counters, to report how much of the run the scheduling loop took.
  auto pass_counters = [&]() -> std::pair<double, double> {
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) return {0, 0};
    return {MetricValue(res->body, "hai_scheduler_passes_total"),
            MetricValue(res->body, "hai_scheduler_pass_seconds_total")};
  };
  for (int u = 0; u < kUsers; ++u) {
    cluster.AddUser(absl::StrCat("u", u), absl::StrCat("bench-token-", u));
  }
  cluster.db().Exec(
      "UPDATE quota SET quota = 1000000;"
      "CREATE TABLE bench_raw_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
      " client int NOT NULL, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())");
  cluster.StartDaemon();
  // Cordoned after registration (haid keeps an admin's state on config nodes): tasks queue.
  cluster.db().Exec("UPDATE hosts SET state = 'cordoned', state_reason = 'submit_load'");
  const std::string script = cluster.WriteScript("noop.py", "pass\n");

  std::printf("submit_load: %.1f s per level, haid pool_size %d, %d users\n", opt.seconds, opt.pool,
              kUsers);
  std::printf("%8s %12s %9s %9s %12s %9s %9s %7s %8s %9s\n", "clients", "submits/s", "p50 ms",
              "p99 ms", "inserts/s", "p50 ms", "p99 ms", "ratio", "passes", "pass ms");
  bool failed = false;
  for (int clients : opt.clients) {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    std::vector<std::unique_ptr<hai::v1::TaskService::Stub>> stubs;
    for (int c = 0; c < clients; ++c) {
      // Each client its own TCP connection, like separate hai-cli users: channels with equal
      // arguments would share one subchannel (gRPC's global pool), so each gets a distinct one.
      grpc::ChannelArguments args;
      args.SetInt("hai.bench.client", c);
      channels.push_back(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
      stubs.push_back(hai::v1::TaskService::NewStub(channels.back()));
    }
    const auto before = pass_counters();
    LevelResult sub = RunLevel(clients, opt.seconds, [&](int t, int64_t i) -> std::string {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", absl::StrCat("Bearer bench-token-", t % kUsers));
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      hai::v1::SubmitRequest req;
      req.set_name(absl::StrCat("c", clients, "-", t, "-", i));
      req.set_entrypoint(script);
      req.set_nodes(1);
      req.set_priority(hai::v1::PRIORITY_NORMAL);
      hai::v1::SubmitResponse resp;
      grpc::Status s = stubs[t]->Submit(&ctx, req, &resp);
      if (!s.ok()) return absl::StrCat(s.error_code(), ": ", s.error_message());
      return "";
    });
    const auto after = pass_counters();
    const double passes = after.first - before.first;
    const double pass_ms = passes > 0 ? (after.second - before.second) * 1000 / passes : 0;
    // End this level's chains so the next level starts from an empty queue.
    cluster.db().Exec(
        "UPDATE attempts SET state = 'stopped', ended_at = now() WHERE state = 'queued';"
        "UPDATE chains SET final_state = 'stopped', finished_at = now() "
        "WHERE final_state IS NULL");
    LevelResult raw = RawInserts(cluster.db().url(), clients, opt.seconds);
    const double ratio = raw.rate() > 0 ? sub.rate() / raw.rate() : 0;
    std::printf("%8d %12.0f %9.2f %9.2f %12.0f %9.2f %9.2f %7.2f %8.0f %9.2f\n", clients,
                sub.rate(), Percentile(sub.latencies_ms, 0.5), Percentile(sub.latencies_ms, 0.99),
                raw.rate(), Percentile(raw.latencies_ms, 0.5), Percentile(raw.latencies_ms, 0.99),
                ratio, passes, pass_ms);
    std::fflush(stdout);
    for (const LevelResult* r : {&sub, &raw}) {
      if (r->errors > 0 || r->ops == 0) {
        std::fprintf(stderr, "  %s: %ld errors, %ld ok; first error: %s\n",
                     r == &sub ? "submit" : "insert", static_cast<long>(r->errors),
                     static_cast<long>(r->ops), r->first_error.c_str());
        failed = true;
      }
    }
  }
  if (failed) std::fprintf(stderr, "haid log:\n%s\n", cluster.DaemonLog().c_str());
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace hai::testing

int main(int argc, char** argv) {
  hai::testing::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--seconds" && has_value && absl::SimpleAtod(argv[i + 1], &opt.seconds) &&
        opt.seconds > 0) {
      ++i;
    } else if (a == "--pool" && has_value && absl::SimpleAtoi(argv[i + 1], &opt.pool) &&
               opt.pool > 0 && opt.pool <= 256) {
      ++i;
    } else if (a == "--clients" && has_value) {
      opt.clients.clear();
      for (absl::string_view part : absl::StrSplit(argv[++i], ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 1024) {
          std::fprintf(stderr, "submit_load: bad --clients value '%s'\n", argv[i]);
          return 2;
        }
        opt.clients.push_back(n);
      }
    } else {
      std::fprintf(stderr,
                   "usage: submit_load [--seconds S>0] [--clients 1,8,32,128] [--pool 1..256]\n");
      return 2;
    }
  }
  return hai::testing::Run(opt);
}
