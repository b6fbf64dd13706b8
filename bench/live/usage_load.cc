// A year of usage history through the real path (issue 19): `hai-cli usage --since 365d`
// against haid and Postgres, with the year's rollups present. The data set is written by
// SQL straight into a fresh migrated database (like scale_load): N hosts of 8 GPUs in 4 node
// groups, each cordoned for a day every three weeks (host_state_log), 50 users in 10 groups
// at tiers LOW/NORMAL/HIGH, and A finished attempts over the last 366 days: 10 min to 12 h
// each, a quarter of them 1-4 whole-node gangs, the rest 1-8 GPUs of one node; every 20th
// chain was preempted (a suspended attempt with a preemptor and a grace minute, then a
// restart attempt). Then haid starts and:
//   1. the rollups of the year are filled through the API (GET /api/v1/usage over 30-day
//      windows, which rolls up the closed hours it covers; timed: a one-off cost);
//   2. R reports of the whole year: `hai-cli usage --since 365d --json` (the process, gRPC,
//      haid, Postgres: what a user waits for) and GET /api/v1/usage over the same window;
//      p50, p90, p99 and max of each.
// It checks every report conserves capacity: allocated + idle + unavailable equals the GPU
// count times the window for nodes that existed throughout (to 1e-6 GPU-hours).
//
// Usage: usage_load [--attempts A] [--nodes N] [--reports R]
//        (defaults 1,000,000 / 1,000 / 50; needs HAI_PG_URL, HAI_REDIS_PORT, HAI_BIN_DIR
//        like the tests)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t attempts = 1000000;
  int64_t nodes = 1000;
  int64_t reports = 50;
};

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

void Generate(Cluster& c, const Options& o) {
  const auto t0 = Clock::now();
  // Every 20th chain has two attempts (preempted, then restarted), exactly A attempts in all.
  const int64_t preempted = o.attempts / 21;
  const int64_t chains = o.attempts - preempted;
  c.db().Exec(
      "ALTER TABLE attempts DISABLE TRIGGER attempts_notify_insert;"
      "ALTER TABLE hosts DISABLE TRIGGER hosts_state_log;"
      "INSERT INTO user_groups (group_name) SELECT 'g' || i FROM generate_series(0, 9) i;"
      "INSERT INTO users (user_name, role, token_hash) "
      "SELECT 'u' || i, 'internal', encode(sha256(('usage-' || i)::bytea), 'hex') "
      "FROM generate_series(0, 49) i;"
      "INSERT INTO user_group_members (user_name, group_name) "
      "SELECT 'u' || i, 'g' || (i % 10) FROM generate_series(0, 49) i;");
  // Hosts n000000.. in node groups ng0..ng3 (index mod 4), ready now. Their history: ready
  // from a day before the year, then a day cordoned every 21 days (staggered per node).
  c.db().Exec(absl::StrCat(
      "CREATE UNLOGGED TABLE epoch0 AS SELECT date_trunc('hour', now()) - interval '366 days' AS t;"
      "INSERT INTO hosts (node, node_group, gpus) SELECT 'n' || lpad(i::text, 6, '0'), "
      "'ng' || (i % 4), 8 FROM generate_series(0, ",
      o.nodes - 1,
      ") i;"
      "INSERT INTO host_state_log (node, at, state, node_group, gpus, reason) "
      "SELECT node, (SELECT t FROM epoch0) - interval '1 day', 'ready', node_group, 8, '' "
      "FROM hosts WHERE node LIKE 'n%';"
      "INSERT INTO host_state_log (node, at, state, node_group, gpus, reason) "
      "SELECT h.node, (SELECT t FROM epoch0) + (k * 21 + i % 21) * interval '1 day' + "
      "(i % 24) * interval '1 hour' + d * interval '1 day', "
      "CASE WHEN d = 0 THEN 'cordoned' ELSE 'ready' END, h.node_group, 8, '' "
      "FROM generate_series(0, ",
      o.nodes - 1,
      ") i JOIN hosts h ON h.node = 'n' || lpad(i::text, 6, '0'), "
      "generate_series(0, 16) k, generate_series(0, 1) d "
      "WHERE (SELECT t FROM epoch0) + (k * 21 + i % 21 + d + 1) * interval '1 day' < now()"));
  // The attempts, drawn once into a work table (setseed: the same data every run).
  c.db().Exec(absl::StrCat(
      "SELECT setseed(0.19);"
      "CREATE UNLOGGED TABLE usage_load_gen AS SELECT i, 'u' || (i % 50) AS user_name, "
      "(ARRAY[0, 10, 30])[1 + (i / 50) % 3] AS tier, "
      // Start anywhere in the year but leave room for the attempt and a restart before now.
      "(SELECT t FROM epoch0) + random() * (interval '366 days' - interval '26 hours') AS s0, "
      "600 + floor(random() * 42600)::int AS d0, 600 + floor(random() * 42600)::int AS d1, "
      "CASE WHEN random() < 0.25 THEN 2 + floor(random() * 3)::int ELSE 1 END AS ranks, "
      "1 + floor(random() * 8)::int AS k, floor(random() * ",
      o.nodes, ")::int AS node0, i % 20 = 0 AND i / 20 < ", preempted,
      " AS preempted FROM generate_series(0, ", chains - 1,
      ") i;"
      "INSERT INTO chains (chain_id, name, user_name, node_group, priority, nodes, "
      "gpus_per_node, entrypoint, first_submit_at, final_state, finished_at) "
      "SELECT i + 1, 'y-' || i, user_name, 'ng' || (node0 % 4), tier, ranks, "
      "CASE WHEN ranks = 1 THEN k ELSE 0 END, '/bin/true', s0 - interval '1 minute', "
      "'succeeded', s0 + (d0 + CASE WHEN preempted THEN 120 + d1 ELSE 0 END) * interval '1 s' "
      "FROM usage_load_gen;"
      // Attempt 0 (suspended by a preemptor, with a grace minute, when preempted) ...
      "INSERT INTO attempts (attempt_id, chain_id, attempt_no, state, tier, queued_at, "
      "scheduled_at, started_at, ended_at, suspend_requested_at, preemptor_chain_id) "
      "SELECT 2 * i + 1, i + 1, 0, CASE WHEN preempted THEN 'suspended' ELSE 'succeeded' END, "
      "tier, s0 - interval '1 minute', s0, s0 + d0 / 20 * interval '1 s', "
      "s0 + d0 * interval '1 s', CASE WHEN preempted THEN s0 + (d0 - 60) * interval '1 s' END, "
      "CASE WHEN preempted THEN (i + 1) % ",
      chains,
      " + 1 END FROM usage_load_gen;"
      // ... and its restart two minutes later.
      "INSERT INTO attempts (attempt_id, chain_id, attempt_no, state, tier, queued_at, "
      "scheduled_at, started_at, ended_at) "
      "SELECT 2 * i + 2, i + 1, 1, 'succeeded', tier, s0 + d0 * interval '1 s', "
      "s0 + (d0 + 120) * interval '1 s', s0 + (d0 + 120 + d1 / 20) * interval '1 s', "
      "s0 + (d0 + 120 + d1) * interval '1 s' FROM usage_load_gen WHERE preempted;"
      // A rank per node: gangs hold whole nodes of one group, single ranks k GPUs.
      "INSERT INTO pods (attempt_id, rank, node, gpus, state) "
      "SELECT a.attempt_id, r, 'n' || lpad(((g.node0 + 4 * r) % ",
      o.nodes,
      ")::text, 6, '0'), "
      "string_to_array(left('0,1,2,3,4,5,6,7', CASE WHEN g.ranks = 1 THEN 2 * g.k - 1 "
      "ELSE 15 END), ',')::int[], 'succeeded' "
      "FROM usage_load_gen g JOIN attempts a ON a.chain_id = g.i + 1, "
      "generate_series(0, g.ranks - 1) r;"
      "SELECT setval(pg_get_serial_sequence('chains', 'chain_id'), max(chain_id)) FROM chains;"
      "SELECT setval(pg_get_serial_sequence('attempts', 'attempt_id'), max(attempt_id)) "
      "FROM attempts;"
      "DROP TABLE usage_load_gen, epoch0;"
      "ALTER TABLE attempts ENABLE TRIGGER attempts_notify_insert;"
      "ALTER TABLE hosts ENABLE TRIGGER hosts_state_log;"
      "ANALYZE;"));
  std::printf("generated %s attempts (%s pods), %ld nodes, %s node state changes in %.1f s\n",
              c.db().Query("SELECT count(*) FROM attempts").c_str(),
              c.db().Query("SELECT count(*) FROM pods").c_str(), static_cast<long>(o.nodes),
              c.db().Query("SELECT count(*) FROM host_state_log").c_str(), Ms(t0) / 1000);
  std::fflush(stdout);
}

struct Summary {
  double p50, p90, p99, max;
};
Summary Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * v.size())) - 1)];
  };
  return {at(0.5), at(0.9), at(0.99), v.back()};
}

// allocated + idle + unavailable of every row, in GPU-hours.
double TotalHours(const nlohmann::json& report) {
  double total = 0;
  for (const auto& row : report.at("rows")) {
    total += row.at("gpu_hours_allocated").get<double>() + row.at("gpu_hours_idle").get<double>() +
             row.at("gpu_hours_unavailable").get<double>();
  }
  return total;
}

int Run(const Options& o) {
  Cluster cluster(1, 8, "");
  cluster.SetSchedulerKey("preemption", "false");
  cluster.AddUser("root", "bench-admin-token", "admin");
  if (::testing::Test::HasFailure()) return 1;
  Generate(cluster, o);
  cluster.StartDaemon();
  if (::testing::Test::HasFailure()) return 1;
  httplib::Client http("127.0.0.1", cluster.http_port());
  http.set_read_timeout(600, 0);
  const httplib::Headers auth{{"Authorization", "Bearer bench-admin-token"}};
  auto get = [&](absl::Time since, absl::Time until, nlohmann::json* out) {
    const std::string path = absl::StrCat(
        "/api/v1/usage?since=", absl::FormatTime(absl::RFC3339_sec, since, absl::UTCTimeZone()),
        "&until=", absl::FormatTime(absl::RFC3339_sec, until, absl::UTCTimeZone()));
    auto res = http.Get(path, auth);
    if (!res || res->status != 200) {
      std::fprintf(stderr, "GET %s: %s\n", path.c_str(),
                   res ? res->body.c_str() : httplib::to_string(res.error()).c_str());
      return false;
    }
    if (out != nullptr) *out = nlohmann::json::parse(res->body);
    return true;
  };

  // 1. Roll up the year, 30 days a call (each fills the closed hours it covers).
  const absl::Time now = absl::Now();
  const absl::Time start = now - absl::Hours(24 * 366);
  const auto fill0 = Clock::now();
  for (absl::Time t = start; t < now; t += absl::Hours(24 * 30)) {
    const auto c0 = Clock::now();
    if (!get(t, std::min(now, t + absl::Hours(24 * 30)), nullptr)) return 1;
    std::printf("  rolled up %s + 30 days in %.1f s\n",
                absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()).c_str(), Ms(c0) / 1000);
    std::fflush(stdout);
  }
  std::printf(
      "rollups of the year: %.1f s (once); usage_hourly %s rows, usage_rollups %s day rows and "
      "%s week rows\n",
      Ms(fill0) / 1000, cluster.db().Query("SELECT count(*) FROM usage_hourly").c_str(),
      cluster.db().Query("SELECT count(*) FROM usage_rollups WHERE span = 24").c_str(),
      cluster.db().Query("SELECT count(*) FROM usage_rollups WHERE span = 168").c_str());
  std::fflush(stdout);

  // 2. Reports of the whole year.
  std::vector<double> cli_ms, http_ms;
  for (int64_t i = 0; i < o.reports; ++i) {
    const auto c0 = Clock::now();
    const CommandResult r = cluster.Cli("root", "--json usage --since 365d");
    cli_ms.push_back(Ms(c0));
    if (r.exit_code != 0) {
      std::fprintf(stderr, "hai-cli usage failed: %s\n", r.output.c_str());
      return 1;
    }
    const absl::Time until = absl::Now();
    const absl::Time since = until - absl::Hours(24 * 365);
    nlohmann::json report;
    const auto h0 = Clock::now();
    if (!get(since, until, &report)) return 1;
    http_ms.push_back(Ms(h0));
    if (i == 0) {
      const nlohmann::json cli = nlohmann::json::parse(r.output);
      std::printf("the year by user: %zu rows (hai-cli), %zu rows (HTTP)\n", cli.at("rows").size(),
                  report.at("rows").size());
    }
    // Conservation over the window haid answered (its until is capped at Postgres' now()):
    // the N bench nodes existed all year with 8 GPUs, the config node (node-0) since haid
    // registered it.
    absl::Time r_since, r_until;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, report.at("since").get<std::string>(), &r_since,
                         &err) ||
        !absl::ParseTime(absl::RFC3339_full, report.at("until").get<std::string>(), &r_until,
                         &err)) {
      std::fprintf(stderr, "bad window in the report: %s\n", err.c_str());
      return 1;
    }
    const std::string until_sql =
        absl::FormatTime(absl::RFC3339_full, r_until, absl::UTCTimeZone());
    const double node0_h = 8 * std::stod(cluster.db().Query(absl::StrCat(
                                   "SELECT extract(epoch from '", until_sql,
                                   "'::timestamptz - min(at)) / 3600 FROM host_state_log "
                                   "WHERE node = 'node-0'")));
    const double expected =
        static_cast<double>(o.nodes) * 8 * absl::ToDoubleHours(r_until - r_since) + node0_h;
    if (std::abs(TotalHours(report) - expected) > 1e-3) {
      std::fprintf(stderr, "conservation: %.6f GPU-hours reported, %.6f expected\n",
                   TotalHours(report), expected);
      return 1;
    }
  }
  for (const auto& [name, v] : {std::pair{"hai-cli usage --since 365d --json", cli_ms},
                                std::pair{"GET /api/v1/usage (a year)", http_ms}}) {
    const Summary s = Summarize(v);
    std::printf("%-36s n=%zu p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms  (first %.0f ms)\n",
                name, v.size(), s.p50, s.p90, s.p99, s.max, v.front());
  }
  // For looking into the data set (EXPLAIN, psql) before it is dropped.
  if (const char* hold = std::getenv("HAI_USAGE_LOAD_HOLD_S"); hold != nullptr) {
    std::printf("holding the database %s for %s s\n", cluster.db().url().c_str(), hold);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(std::atoi(hold)));
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
    if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], &v) || v < 1) {
      std::fprintf(stderr,
                   "usage: usage_load [--attempts A] [--nodes N] [--reports R]   (positive "
                   "integers)\n");
      return 2;
    }
    ++i;
    if (a == "--attempts") {
      o.attempts = v;
    } else if (a == "--nodes") {
      o.nodes = v;
    } else if (a == "--reports") {
      o.reports = v;
    } else {
      std::fprintf(stderr, "usage_load: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.nodes < 4 || o.nodes > 999999 || o.attempts < 21) {
    std::fprintf(stderr, "usage_load: need 4 <= nodes <= 999999 and attempts >= 21\n");
    return 2;
  }
  return hai::testing::Run(o);
}
