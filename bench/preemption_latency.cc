// End-to-end preemption latency of the live system (issue 3's figures), measured on real
// processes: haid + hai-manager + Python ranks + Postgres + Redis on this host.
//
// Each round on 2 local nodes: a 2-node LOW task that polls hai.receive_suspend_command()
// every 10 ms and, on the notice, records when it saw it and calls go_suspend() at once; then
// a 1-node HIGH task is submitted. Reported per round, from Postgres timestamps (one clock)
// and the ranks' own records:
//   submit -> notice marked   HIGH chain's submit to the victim's suspend_requested_at
//   submit -> notice seen     HIGH chain's submit to the first rank seeing the notice
//   victim exit -> running    victim attempt's end to the HIGH attempt's running state
// Usage: preemption_latency [ROUNDS]   (needs HAI_PG_URL, HAI_REDIS_PORT like the tests)
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

constexpr char kVictim[] = R"PY(
import os, sys, time
import hai
out = os.environ["NOTICE_FILE"]
while True:
    if hai.receive_suspend_command():
        with open("%s-r%d" % (out, hai.rank()), "w") as f:
            f.write("%.6f" % time.time())
        hai.go_suspend()
        time.sleep(600)
    time.sleep(0.01)
)PY";

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double Query(Cluster& c, const std::string& sql) {
  auto conn = c.db().Connect();
  pqxx::nontransaction tx(*conn);
  auto r = tx.exec(sql);
  return r.empty() || r[0][0].is_null() ? -1 : r[0][0].as<double>();
}

std::string CurrentState(Cluster& c, int64_t chain) {
  auto conn = c.db().Connect();
  pqxx::nontransaction tx(*conn);
  auto r = tx.exec_params(
      "SELECT state FROM attempts WHERE chain_id = $1 ORDER BY attempt_no DESC LIMIT 1", chain);
  return r.empty() ? "" : r[0][0].as<std::string>();
}

int64_t Submit(Cluster& c, const std::string& user, const std::string& args) {
  auto r = c.Cli(user, "python " + args + " --json");
  const size_t at = r.output.find("\"chain_id\"");
  if (r.exit_code != 0 || at == std::string::npos) {
    std::fprintf(stderr, "submit failed: %s\n", r.output.c_str());
    std::exit(1);
  }
  size_t digit = r.output.find_first_of("0123456789", at);
  return std::stoll(r.output.substr(digit));
}

int Run(int rounds) {
  Cluster cluster(2, 1, "");
  cluster.AddUser("alice", "alice-token");
  cluster.AddUser("bob", "bob-token");
  cluster.StartDaemon();
  const std::string victim = cluster.WriteScript("victim.py", kVictim);
  const std::string quick = cluster.WriteScript("quick.py", "pass\n");
  std::vector<double> marked, seen, handover;
  for (int i = 0; i < rounds; ++i) {
    const std::string notice = absl::StrCat(cluster.dir(), "/notice-", i);
    const int64_t low = Submit(cluster, "alice",
                               absl::StrCat(victim, " -- -n 2 -p LOW --name v", i,
                                            " -e PYTHONPATH=", HAI_SOURCE_DIR,
                                            "/python -e NOTICE_FILE=", notice));
    if (!WaitFor([&] { return CurrentState(cluster, low) == "running"; }, 20000)) {
      std::fprintf(stderr, "victim did not start:\n%s\n", cluster.DaemonLog().c_str());
      return 1;
    }
    // Give the ranks time to import hai and enter their poll loop.
    WaitFor([] { return false; }, 1500);
    const int64_t high = Submit(cluster, "bob", quick + " -- -n 1 -p HIGH --name h" +
                                                    std::to_string(i));
    if (!WaitFor([&] { return CurrentState(cluster, high) == "succeeded"; }, 30000)) {
      std::fprintf(stderr, "HIGH task did not finish:\n%s\n", cluster.DaemonLog().c_str());
      return 1;
    }
    const double submit = Query(cluster, absl::StrCat(
        "SELECT extract(epoch FROM first_submit_at) FROM chains WHERE chain_id = ", high));
    const double requested = Query(cluster, absl::StrCat(
        "SELECT extract(epoch FROM suspend_requested_at) FROM attempts WHERE chain_id = ", low,
        " AND attempt_no = 0"));
    const double ended = Query(cluster, absl::StrCat(
        "SELECT extract(epoch FROM ended_at) FROM attempts WHERE chain_id = ", low,
        " AND attempt_no = 0"));
    const double running = Query(cluster, absl::StrCat(
        "SELECT extract(epoch FROM started_at) FROM attempts WHERE chain_id = ", high));
    // The first rank to see the notice; the other may be stopped before its next poll
    // (the first go_suspend() ends the attempt for every rank).
    double saw = -1;
    for (int rank = 0; rank < 2; ++rank) {
      std::ifstream f(absl::StrCat(notice, "-r", rank));
      double t = -1;
      if (f >> t && (saw < 0 || t < saw)) saw = t;
    }
    marked.push_back((requested - submit) * 1000);
    if (saw > 0) seen.push_back((saw - submit) * 1000);
    handover.push_back((running - ended) * 1000);
    std::printf("round %2d: notice marked %7.1f ms, seen by the task %7.1f ms, victim exit -> "
                "HIGH running %7.1f ms\n",
                i, marked.back(), saw > 0 ? (saw - submit) * 1000 : -1.0, handover.back());
    // Clean up for the next round: the victim's requeued attempt must not hold the nodes.
    cluster.Cli("alice", absl::StrCat("stop ", low));
    WaitFor([&] { return CurrentState(cluster, low) == "stopped"; }, 20000);
  }
  std::printf("\n%-34s %9s %9s %9s\n", "metric (ms)", "p50", "p99", "max");
  auto row = [](const char* name, const std::vector<double>& v) {
    std::printf("%-34s %9.1f %9.1f %9.1f\n", name, Percentile(v, 0.5), Percentile(v, 0.99),
                *std::max_element(v.begin(), v.end()));
  };
  row("HIGH submit -> notice marked", marked);
  row("HIGH submit -> notice seen (10ms poll)", seen);
  row("victim exit -> HIGH running", handover);
  return 0;
}

}  // namespace
}  // namespace hai::testing

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
  return hai::testing::Run(rounds);
}
