// Leader fail-over under churn (issue 18): two haid replicas on one database, a churn of short
// tasks submitted through hai-cli (which lists both replicas), a 2-node training that runs
// through everything, and K leader kills (SIGKILL) followed by H clean hand-overs (SIGTERM).
//
// For each fail-over the clock starts just before the signal and stops
//   - at the new leader's first completed pass as leader (hai_leader_passes_total on its
//     /metrics, polled every 2 ms), and
//   - at the first task the new leader starts: a probe task waits in group `probe` on a node
//     an admin cordoned; right after the signal the node is uncordoned by SQL (an admin edit
//     nobody but the new leader can act on), and the probe's `scheduled` event (Postgres'
//     clock, the same host clock) marks its start.
// The killed replica is started again (a standby) before the next round. Throughout, a sampler
// looks every 20 ms for a GPU held by two open attempts. At the end the churn stops and every
// task must have succeeded (none failed, none lost, none run twice), and the training must
// still be its first attempt with the same rank processes.
//
// Usage: failover_load [--kills K] [--handovers H] [--nodes N]   (defaults 100, 20, 6; needs
//        HAI_PG_URL, HAI_REDIS_PORT, HAI_BIN_DIR like the tests). Exit status 1 on a
//        violation or when a fail-over does not complete.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/live/prometheus_text.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int kills = 100;
  int handovers = 20;
  int nodes = 6;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double Metric(Cluster& c, int replica, const std::string& name) {
  httplib::Client client("127.0.0.1", c.replica_http_port(replica));
  client.set_connection_timeout(0, 200000);
  auto res = client.Get("/metrics");
  return res && res->status == 200 ? MetricValue(res->body, name) : -1;
}

int LeaderOf(Cluster& c) {
  for (int i = 0; i < c.replicas(); ++i) {
    if (absl::StartsWith(c.Readyz(i), "ready leader")) return i;
  }
  return -1;
}

struct Round {
  double to_pass_ms = -1;   // signal -> new leader's first completed pass
  double to_start_ms = -1;  // signal -> first task it started
};

class Bench {
 public:
  explicit Bench(const Options& o) : o_(o) {}

  int Run() {
    cluster_ = std::make_unique<Cluster>(
        o_.nodes, 1, "[[nodes]]\nname = \"probe\"\ngroup = \"probe\"\ngpus = 1\n",
        "leader_lease_ms = 3000\nleader_poll_ms = 200\n");
    Cluster& c = *cluster_;
    c.db().Exec(
        "UPDATE quota SET quota = 100; INSERT INTO quota (owner_kind, owner, resource, quota) "
        "VALUES ('public', 'public', 'node-probe-NORMAL', 1)");
    c.AddReplicas(1);
    c.StartReplica(0);
    if (!WaitFor([&] { return LeaderOf(c) == 0; }, 10000)) return Fail("no first leader");
    c.StartReplica(1);
    c.AddUser("alice", "alice-token");
    if (::testing::Test::HasFailure()) return 1;

    train_ = c.WriteScript("train.py", "import time\nwhile True:\n    time.sleep(0.5)\n");
    churn_ = c.WriteScript("churn.py", "import time\ntime.sleep(0.3)\n");
    probe_ = c.WriteScript("probe.py", "print('probe')\n");
    training_ = Submit(train_, "-n 2");
    if (!WaitFor([&] { return c.CurrentState(training_) == "running"; }, 20000)) {
      return Fail("training did not start");
    }
    training_attempt_ = c.db().Query(
        absl::StrCat("SELECT max(attempt_id) FROM attempts WHERE chain_id = ", training_));
    training_pids_ = RankPids();

    std::thread churn([&] { Churn(); });
    std::thread sampler([&] { Sample(); });
    std::vector<Round> kills, handovers;
    bool ok = true;
    for (int k = 0; ok && k < o_.kills + o_.handovers; ++k) {
      const bool kill = k < o_.kills;
      Round r;
      ok = FailOver(kill, &r);
      (kill ? kills : handovers).push_back(r);
      std::fprintf(stderr, "%s %d: pass %.1f ms, first start %.1f ms\n", kill ? "kill" : "handover",
                   k, r.to_pass_ms, r.to_start_ms);
    }
    stop_ = true;
    churn.join();
    sampler.join();
    const int violations = Check(ok);
    Report("crash (SIGKILL)", kills);
    Report("hand-over (SIGTERM)", handovers);
    std::printf("double-placed GPU samples: %lld (of %lld samples)\n",
                static_cast<long long>(double_placed_.load()),
                static_cast<long long>(samples_.load()));
    std::printf("tasks submitted: %d, violations: %d\n", submitted_.load(), violations);
    return ok && violations == 0 && double_placed_ == 0 ? 0 : 1;
  }

 private:
  int Fail(const std::string& why) {
    std::fprintf(stderr, "failover_load: %s\n", why.c_str());
    return 1;
  }

  std::string RankPids() {
    return cluster_->db().Query(
        absl::StrCat("SELECT string_agg(pid::text, ',' ORDER BY rank) FROM pods "
                     "WHERE attempt_id = ",
                     training_attempt_));
  }

  // Keeps about as many short tasks open as there are free nodes, so every pass has work.
  void Churn() {
    while (!stop_) {
      const int open = std::stoi(cluster_->db().Query(
          "SELECT count(*) FROM chains WHERE final_state IS NULL AND node_group = 'default'"));
      if (open < o_.nodes + 2) {
        if (Submit(churn_, "-n 1") > 0) ++submitted_;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // A GPU of a node held by two open attempts at once.
  void Sample() {
    auto conn = cluster_->db().Connect();
    while (!stop_) {
      pqxx::nontransaction tx(*conn);
      const int64_t n =
          tx.exec1(
                "SELECT count(*) FROM (SELECT p.node, g FROM pods p JOIN attempts a USING "
                "(attempt_id), unnest(p.gpus) g WHERE a.state IN ('scheduled', 'starting', "
                "'running') GROUP BY 1, 2 HAVING count(*) > 1) d")[0]
              .as<int64_t>();
      ++samples_;
      if (n != 0) ++double_placed_;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // A submit through hai-cli (both replicas listed). A call cut off by a kill is tried again
  // under the same name unless the database shows it was written. 0 on failure.
  int64_t Submit(const std::string& script, const std::string& opts) {
    const std::string name = absl::StrCat("f", next_name_++);
    for (int attempt = 0; attempt < 20; ++attempt) {
      CommandResult r = cluster_->Cli(
          "alice", absl::StrCat("python ", script, " -- ", opts, " --name ", name, " --json"));
      const size_t at = r.output.find("\"chain_id\"");
      if (r.exit_code == 0 && at != std::string::npos) {
        return std::stoll(r.output.substr(r.output.find_first_of("0123456789", at)));
      }
      // Cut off: written or not? The name says (a retry could otherwise run it twice).
      const std::string id = cluster_->db().Query(
          absl::StrCat("SELECT max(chain_id) FROM chains WHERE name = '", name, "'"));
      if (!id.empty()) return std::stoll(id);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::fprintf(stderr, "failover_load: submit %s failed\n", name.c_str());
    return 0;
  }

  bool FailOver(bool kill, Round* r) {
    Cluster& c = *cluster_;
    const int leader = LeaderOf(c);
    if (leader < 0) return Fail("no leader") == 0;
    const int standby = 1 - leader;
    // The probe: queued behind a cordoned node of its own.
    c.db().Exec("UPDATE hosts SET state = 'cordoned', state_reason = 'probe' WHERE node = 'probe'");
    const int64_t probe = Submit(probe_, "-n 1 -g probe");
    if (probe == 0 || !WaitFor([&] { return c.CurrentState(probe) == "queued"; }, 5000)) {
      return Fail("probe not queued") == 0;
    }
    ++submitted_;
    const double passes_before = Metric(c, standby, "hai_leader_passes_total");
    const Clock::time_point t0 = Clock::now();
    const double t0_unix = NowUnix();
    if (kill) {
      c.SignalReplica(leader, SIGKILL);
    } else {
      c.SignalReplica(leader, SIGTERM);
    }
    c.db().Exec("UPDATE hosts SET state = 'ready', state_reason = '' WHERE node = 'probe'");
    const bool passed = WaitFor(
        [&] {
          const double p = Metric(c, standby, "hai_leader_passes_total");
          if (p > passes_before && p >= 0) {
            r->to_pass_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
            return true;
          }
          return false;
        },
        10000);
    if (!passed) return Fail("the standby did not take over") == 0;
    std::string at;
    WaitFor(
        [&] {
          at = c.db().Query(absl::StrCat(
              "SELECT coalesce(min(extract(epoch FROM at))::text, '') FROM task_events "
              "WHERE chain_id = ",
              probe, " AND kind = 'scheduled'"));
          return !at.empty();
        },
        10000);
    double at_unix = 0;
    if (!absl::SimpleAtod(at, &at_unix)) return Fail("probe never started") == 0;
    r->to_start_ms = (at_unix - t0_unix) * 1000;
    // The old leader comes back as a standby.
    if (kill) {
      c.KillReplica(leader);  // reaps it
    } else {
      c.StopReplica(leader);
    }
    c.StartReplica(leader);
    if (::testing::Test::HasFailure()) return false;
    return WaitFor([&] { return c.CurrentState(probe) == "succeeded"; }, 15000) ||
           Fail("probe did not finish") == 0;
  }

  int Check(bool ok) {
    Cluster& c = *cluster_;
    int violations = 0;
    auto expect = [&](const std::string& what, const std::string& got, const std::string& want) {
      if (got == want) return;
      std::printf("VIOLATION %s: %s (want %s)\n", what.c_str(), got.c_str(), want.c_str());
      ++violations;
    };
    if (ok) {
      WaitFor(
          [&] {
            return c.db().Query("SELECT count(*) FROM chains WHERE final_state IS NULL") == "1";
          },
          60000);
    }
    expect("unfinished tasks besides the training",
           c.db().Query("SELECT count(*) FROM chains WHERE final_state IS NULL"), "1");
    expect("tasks not succeeded",
           c.db().Query("SELECT count(*) FROM chains WHERE final_state IS NOT NULL AND "
                        "final_state <> 'succeeded'"),
           "0");
    expect("tasks run more than once (restarted)",
           c.db().Query("SELECT count(*) FROM (SELECT chain_id FROM attempts GROUP BY 1 "
                        "HAVING count(*) > 1) x"),
           "0");
    expect("tasks lost (submitted but not in the database)",
           c.db().Query("SELECT count(*) FROM chains"), absl::StrCat(submitted_.load() + 1));
    expect("training attempt",
           c.db().Query(
               absl::StrCat("SELECT max(attempt_id) FROM attempts WHERE chain_id = ", training_)),
           training_attempt_);
    expect("training rank processes", RankPids(), training_pids_);
    expect("training state", c.CurrentState(training_), "running");
    return violations;
  }

  void Report(const char* what, const std::vector<Round>& rounds) {
    std::vector<double> pass, start;
    for (const Round& r : rounds) {
      pass.push_back(r.to_pass_ms);
      start.push_back(r.to_start_ms);
    }
    std::printf(
        "%-20s n=%3zu  to first pass: p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms | "
        "to first start: p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n",
        what, rounds.size(), Percentile(pass, 0.5), Percentile(pass, 0.99), Percentile(pass, 1.0),
        Percentile(start, 0.5), Percentile(start, 0.99), Percentile(start, 1.0));
  }

  const Options o_;
  std::unique_ptr<Cluster> cluster_;
  std::string train_, churn_, probe_;
  int64_t training_ = 0;
  std::string training_attempt_, training_pids_;
  std::atomic<int> next_name_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> submitted_{0};
  std::atomic<int64_t> samples_{0}, double_placed_{0};
};

}  // namespace
}  // namespace hai::testing

int main(int argc, char** argv) {
  hai::testing::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    int v = 0;
    if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], &v) || v < 0) {
      std::fprintf(stderr, "usage: failover_load [--kills K] [--handovers H] [--nodes N]\n");
      return 2;
    }
    ++i;
    if (a == "--kills") {
      o.kills = v;
    } else if (a == "--handovers") {
      o.handovers = v;
    } else if (a == "--nodes") {
      o.nodes = std::max(3, v);
    } else {
      std::fprintf(stderr, "failover_load: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  return hai::testing::Bench(o).Run();
}
