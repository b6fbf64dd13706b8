// `logs -f` by one user at scale (issue 15): N concurrent follow streams of one running task
// against a live haid with grpc.max_follows_per_user = L. Reports how many were admitted and
// refused (RESOURCE_EXHAUSTED) and the scheduling pass time (haid's own pass counters on
// /metrics) with and without the admitted follows open, plus haid's threads and RSS.
//
// A queue of Q tasks that cannot start (all nodes but the followed task's are cordoned) gives
// every pass a queue to decide, so the pass time measures real work.
//
// Usage: follow_load [--follows N] [--limit L] [--seconds S] [--queued Q]
//   (defaults 2000 / 16 / 5 / 500; needs HAI_PG_URL, HAI_REDIS_PORT and HAI_BIN_DIR like the
//   tests; see bench/README.md). Exit status 1 when more than L follows were admitted or any
//   call failed otherwise.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/live/prometheus_text.h"
#include "hai/v1/task.grpc.pb.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int follows = 2000;
  int limit = 16;
  double seconds = 5;
  int queued = 500;
};

// A /proc/<pid>/status field (Threads, VmRSS in KiB), -1 when unreadable.
int64_t ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

struct Follow {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientAsyncReader<hai::v1::LogChunk>> reader;
  hai::v1::LogChunk chunk;
  grpc::Status status;
  bool got_text = false;
  bool done = false;
};

// Tags: index * 4 + kind.
enum Kind { kStart = 0, kRead = 1, kFinish = 2 };
void* Tag(size_t i, Kind k) { return reinterpret_cast<void*>(i * 4 + k); }

int Run(const Options& opt) {
  constexpr int kNodes = 8;
  Cluster cluster(kNodes, 8,
                  absl::StrCat("[grpc]\nmax_follows_per_user = ", opt.limit,
                               "\nmax_follows = ", std::max(opt.limit, 256), "\n"));
  std::string config;
  {
    std::ifstream in(cluster.config_path());
    std::stringstream ss;
    ss << in.rdbuf();
    config = ss.str();
  }
  std::smatch m;
  if (!std::regex_search(config, m, std::regex("grpc_listen = \"([^\"]+)\""))) return 1;
  const std::string target = m[1];
  if (!std::regex_search(config, m, std::regex("http_listen = \"127.0.0.1:([0-9]+)\""))) return 1;
  httplib::Client http("127.0.0.1", std::stoi(m[1]));
  http.set_read_timeout(10);
  auto pass_counters = [&]() -> std::pair<double, double> {
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) return {0, 0};
    return {MetricValue(res->body, "hai_scheduler_passes_total"),
            MetricValue(res->body, "hai_scheduler_pass_seconds_total")};
  };
  // Mean pass time over `seconds` of the loop's own passes.
  auto measure = [&](double seconds) -> std::pair<double, double> {
    const auto before = pass_counters();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const auto after = pass_counters();
    const double passes = after.first - before.first;
    return {passes, passes > 0 ? (after.second - before.second) * 1000 / passes : 0};
  };

  cluster.AddUser("alice", "follow-token");
  cluster.db().Exec("UPDATE quota SET quota = 1000000");
  cluster.StartDaemon();
  const std::string sleeper = cluster.WriteScript("sleeper.py",
                                                  "import time\nprint('started', flush=True)\n"
                                                  "time.sleep(3600)\n");
  const int64_t followed = cluster.Submit("alice", sleeper, "");
  if (followed == 0) return 1;
  const bool running = WaitFor([&] { return cluster.CurrentState(followed) == "running"; }, 30000);
  if (!running) {
    std::fprintf(stderr, "the followed task did not start\n%s\n", cluster.DaemonLog().c_str());
    return 1;
  }
  // Everything else queues: the other nodes cordoned, then Q whole-node tasks.
  cluster.db().Exec(
      "UPDATE hosts SET state = 'cordoned', state_reason = 'follow_load' WHERE node <> "
      "(SELECT p.node FROM pods p JOIN attempts a USING (attempt_id) WHERE a.chain_id = " +
      std::to_string(followed) + " LIMIT 1)");
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = hai::v1::TaskService::NewStub(channel);
  for (int i = 0; i < opt.queued; ++i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer follow-token");
    hai::v1::SubmitRequest req;
    req.set_name(absl::StrCat("q", i));
    req.set_entrypoint(sleeper);
    req.set_nodes(1);
    req.set_priority(hai::v1::PRIORITY_NORMAL);
    hai::v1::SubmitResponse resp;
    grpc::Status s = stub->Submit(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "submit: %s\n", s.error_message().c_str());
      return 1;
    }
  }
  const pid_t haid = cluster.haid_pid();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the queue settles
  const auto base = measure(opt.seconds);
  const int64_t threads_before = ProcStatus(haid, "Threads");
  const int64_t rss_before = ProcStatus(haid, "VmRSS");

  // N follows over 8 connections, all at once.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<hai::v1::TaskService::Stub>> stubs;
  for (int c = 0; c < 8; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("hai.bench.client", c);
    channels.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    stubs.push_back(hai::v1::TaskService::NewStub(channels.back()));
  }
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Follow>> follows;
  std::atomic<int> admitted{0}, refused{0}, other{0};
  std::string first_other;
  std::thread pump([&] {
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
      const size_t i = reinterpret_cast<uintptr_t>(tag) / 4;
      const Kind k = static_cast<Kind>(reinterpret_cast<uintptr_t>(tag) % 4);
      Follow& f = *follows[i];
      if (k == kStart || (k == kRead && ok)) {
        if (k == kRead && !f.got_text) {
          f.got_text = true;
          ++admitted;
        }
        if (ok) {
          f.reader->Read(&f.chunk, Tag(i, kRead));
          continue;
        }
      }
      if (k != kFinish) {
        f.reader->Finish(&f.status, Tag(i, kFinish));
        continue;
      }
      f.done = true;
      if (f.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++refused;
      } else if (f.status.error_code() != grpc::StatusCode::CANCELLED) {
        if (other++ == 0) first_other = f.status.error_message();
      }
    }
  });
  hai::v1::StreamLogsRequest req;
  req.mutable_task()->set_chain_id(followed);
  req.set_rank(-1);
  req.set_attempt_no(-1);
  req.set_follow(true);
  const auto t0 = Clock::now();
  for (int i = 0; i < opt.follows; ++i) follows.push_back(std::make_unique<Follow>());
  for (int i = 0; i < opt.follows; ++i) {
    Follow& f = *follows[i];
    f.ctx.AddMetadata("authorization", "Bearer follow-token");
    // Prepared, then started: the start's completion must find the reader assigned.
    f.reader = stubs[i % stubs.size()]->PrepareAsyncStreamLogs(&f.ctx, req, &cq);
    f.reader->StartCall(Tag(i, kStart));
  }
  WaitFor([&] { return admitted + refused + other >= opt.follows; }, 60000);
  const double settle_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto during = measure(opt.seconds);
  const int64_t threads_during = ProcStatus(haid, "Threads");
  const int64_t rss_during = ProcStatus(haid, "VmRSS");
  for (auto& f : follows) f->ctx.TryCancel();
  WaitFor(
      [&] {
        for (auto& f : follows) {
          if (!f->done) return false;
        }
        return true;
      },
      30000);
  cq.Shutdown();
  pump.join();

  std::printf("follow_load: %d follows by one user, max_follows_per_user %d, %d queued\n",
              opt.follows, opt.limit, opt.queued);
  std::printf(
      "  admitted %d, refused (RESOURCE_EXHAUSTED) %d, other errors %d%s%s; all answered "
      "in %.2f s\n",
      admitted.load(), refused.load(), other.load(), other > 0 ? ": " : "", first_other.c_str(),
      settle_s);
  std::printf(
      "  pass time: %.2f ms mean over %.0f passes before, %.2f ms over %.0f passes with "
      "the follows open\n",
      base.second, base.first, during.second, during.first);
  std::printf("  haid threads %ld -> %ld, VmRSS %ld -> %ld KiB\n",
              static_cast<long>(threads_before), static_cast<long>(threads_during),
              static_cast<long>(rss_before), static_cast<long>(rss_during));
  return (admitted > opt.limit || other > 0) ? 1 : 0;
}

}  // namespace
}  // namespace hai::testing

int main(int argc, char** argv) {
  hai::testing::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool v = i + 1 < argc;
    if (a == "--follows" && v && absl::SimpleAtoi(argv[i + 1], &opt.follows) && opt.follows > 0) {
      ++i;
    } else if (a == "--limit" && v && absl::SimpleAtoi(argv[i + 1], &opt.limit) && opt.limit > 0) {
      ++i;
    } else if (a == "--seconds" && v && absl::SimpleAtod(argv[i + 1], &opt.seconds) &&
               opt.seconds > 0) {
      ++i;
    } else if (a == "--queued" && v && absl::SimpleAtoi(argv[i + 1], &opt.queued) &&
               opt.queued >= 0) {
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: follow_load [--follows N] [--limit L] [--seconds S] [--queued Q]\n");
      return 2;
    }
  }
  return hai::testing::Run(opt);
}
