// hai-sim's output files and terminal table (see report.h).
#include "bench/sim/report.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "scheduler/policy/tier.h"

namespace hai::sim {
namespace {

nlohmann::json DistJson(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"median", d.median},
          {"p95", d.p95},     {"p99", d.p99},   {"max", d.max}};
}

absl::Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

// CSV cell: quoted when it holds a comma, quote or newline.
std::string Cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

}  // namespace

nlohmann::json SummaryJson(const Summary& s) {
  nlohmann::json tiers = nlohmann::json::array();
  for (const TierSummary& t : s.tiers) {
    tiers.push_back({{"tier", t.tier},
                     {"jobs", t.jobs},
                     {"rejected", t.rejected},
                     {"jct_s", DistJson(t.jct_s)},
                     {"queue_delay_s", DistJson(t.queue_delay_s)},
                     {"suspensions", t.suspensions},
                     {"suspended_jobs", t.suspended_jobs},
                     {"lost_gpu_hours", t.lost_gpu_hours},
                     {"gpu_hours", t.gpu_hours}});
  }
  nlohmann::json sizes = nlohmann::json::array();
  for (const SizeSummary& z : s.sizes) {
    sizes.push_back({{"tier", z.tier},
                     {"size", z.size},
                     {"jobs", z.jobs},
                     {"jct_s", DistJson(z.jct_s)},
                     {"queue_delay_s", DistJson(z.queue_delay_s)}});
  }
  return {{"policy", s.policy},
          {"window_utilisation", s.window_utilisation},
          {"idle_waiting_gpu_hours", s.idle_waiting_gpu_hours},
          {"reserved_idle_gpu_hours", s.reserved_idle_gpu_hours},
          {"makespan_utilisation", s.makespan_utilisation},
          {"makespan_s", s.makespan_s},
          {"decide_calls", s.decide_calls},
          {"over_quota_suspensions", s.over_quota_suspensions},
          {"queued_passed", s.queued_passed},
          {"wall_s", s.wall_s},
          {"cpu_s", s.cpu_s},
          {"tiers", tiers},
          {"sizes", sizes}};
}

absl::Status WriteReport(const std::string& dir, const nlohmann::json& run_info,
                         const std::vector<SimJob>& jobs, const std::vector<PolicyRun>& runs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::filesystem::path root(dir);

  nlohmann::json policies = nlohmann::json::array();
  for (const PolicyRun& r : runs) {
    nlohmann::json p = SummaryJson(r.summary);
    p["utilisation"] = {{"bucket_s", r.result.util_bucket_s},
                        {"start_s", r.result.start_s},
                        {"values", r.result.utilisation},
                        {"waiting_gpus", r.result.waiting_gpus}};
    policies.push_back(std::move(p));
  }
  nlohmann::json doc = {{"run", run_info}, {"policies", policies}};
  if (absl::Status s = WriteFile(root / "summary.json", doc.dump(2) + "\n"); !s.ok()) return s;

  std::string csv =
      "policy,tier,jobs,rejected,jct_mean_s,jct_median_s,jct_p95_s,jct_p99_s,"
      "queue_delay_mean_s,queue_delay_median_s,queue_delay_p95_s,queue_delay_p99_s,"
      "suspensions,suspended_jobs,lost_gpu_hours,gpu_hours,window_utilisation,"
      "makespan_utilisation,makespan_s\n";
  for (const PolicyRun& r : runs) {
    for (const TierSummary& t : r.summary.tiers) {
      absl::StrAppend(&csv, r.summary.policy, ",", t.tier, ",", t.jobs, ",", t.rejected, ",",
                      Num(t.jct_s.mean), ",", Num(t.jct_s.median), ",", Num(t.jct_s.p95), ",",
                      Num(t.jct_s.p99), ",", Num(t.queue_delay_s.mean), ",",
                      Num(t.queue_delay_s.median), ",", Num(t.queue_delay_s.p95), ",",
                      Num(t.queue_delay_s.p99), ",", t.suspensions, ",", t.suspended_jobs, ",",
                      Num(t.lost_gpu_hours), ",", Num(t.gpu_hours), ",",
                      Num(r.summary.window_utilisation), ",", Num(r.summary.makespan_utilisation),
                      ",", r.summary.makespan_s, "\n");
    }
  }
  if (absl::Status s = WriteFile(root / "summary.csv", csv); !s.ok()) return s;

  std::string sizes =
      "policy,tier,size_nodes,jobs,queue_delay_mean_s,queue_delay_p95_s,jct_mean_s,jct_p95_s\n";
  for (const PolicyRun& r : runs) {
    for (const SizeSummary& z : r.summary.sizes) {
      absl::StrAppend(&sizes, r.summary.policy, ",", z.tier, ",", z.size, ",", z.jobs, ",",
                      Num(z.queue_delay_s.mean), ",", Num(z.queue_delay_s.p95), ",",
                      Num(z.jct_s.mean), ",", Num(z.jct_s.p95), "\n");
    }
  }
  if (absl::Status s = WriteFile(root / "sizes.csv", sizes); !s.ok()) return s;

  // Utilisation: one row per bucket, per policy a utilisation column and a waiting-GPUs
  // column (blank past a policy's end).
  std::vector<std::string> names;
  size_t rows = 0;
  for (const PolicyRun& r : runs) {
    names.push_back(r.summary.policy);
    rows = std::max(rows, r.result.utilisation.size());
  }
  for (const PolicyRun& r : runs) names.push_back(r.summary.policy + "_waiting_gpus");
  std::string util = absl::StrCat("bucket_start_s,", absl::StrJoin(names, ","), "\n");
  const int64_t bucket = runs.empty() ? 1 : runs[0].result.util_bucket_s;
  const int64_t start = runs.empty() ? 0 : runs[0].result.start_s;
  for (size_t b = 0; b < rows; ++b) {
    absl::StrAppend(&util, start + static_cast<int64_t>(b) * bucket);
    for (const PolicyRun& r : runs) {
      util += ",";
      if (b < r.result.utilisation.size()) util += Num(r.result.utilisation[b]);
    }
    for (const PolicyRun& r : runs) {
      util += ",";
      if (b < r.result.waiting_gpus.size()) util += Num(r.result.waiting_gpus[b]);
    }
    util += "\n";
  }
  if (absl::Status s = WriteFile(root / "utilisation.csv", util); !s.ok()) return s;

  for (const PolicyRun& r : runs) {
    std::string out =
        "job_id,tier,group,user,gpus,nodes,gpus_allocated,submit_s,duration_s,first_start_s,"
        "finish_s,queue_delay_s,jct_s,suspensions,lost_gpu_s,rejected\n";
    for (size_t i = 0; i < jobs.size(); ++i) {
      const SimJob& j = jobs[i];
      const JobOutcome& o = r.result.jobs[i];
      absl::StrAppend(&out, Cell(j.id), ",", std::string(policy::TierName(j.tier)), ",",
                      Cell(j.group), ",", Cell(j.user), ",", j.gpus, ",", j.nodes, ",",
                      o.gpus_allocated, ",", j.submit_s, ",", j.duration_s, ",");
      if (o.rejected) {
        absl::StrAppend(&out, ",,,,0,0,", Cell(o.reject_reason), "\n");
        continue;
      }
      absl::StrAppend(&out, o.first_start_s, ",", o.finish_s, ",", o.first_start_s - j.submit_s,
                      ",", o.finish_s - j.submit_s, ",", o.suspensions, ",", o.lost_gpu_s, ",\n");
    }
    const std::string name = absl::StrCat("jobs-", r.summary.policy, ".csv");
    if (absl::Status s = WriteFile(root / name, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string FormatTable(const std::vector<PolicyRun>& runs) {
  std::string out =
      absl::StrFormat("%-14s %-13s %7s %11s %11s %11s %11s %9s %10s\n", "policy", "tier", "jobs",
                      "delay mean", "delay p95", "jct mean", "jct p95", "suspends", "lost GPUh");
  auto dur = [](double s) {
    if (s < 120) return absl::StrFormat("%.0f s", s);
    if (s < 7200) return absl::StrFormat("%.1f min", s / 60);
    return absl::StrFormat("%.2f h", s / 3600);
  };
  for (const PolicyRun& r : runs) {
    for (const TierSummary& t : r.summary.tiers) {
      absl::StrAppendFormat(&out, "%-14s %-13s %7d %11s %11s %11s %11s %9d %10.1f\n",
                            r.summary.policy, t.tier, t.jobs, dur(t.queue_delay_s.mean),
                            dur(t.queue_delay_s.p95), dur(t.jct_s.mean), dur(t.jct_s.p95),
                            t.suspensions, t.lost_gpu_hours);
    }
    for (const SizeSummary& z : r.summary.sizes) {
      absl::StrAppendFormat(&out, "%-14s %-13s %7d %11s %11s %11s %11s\n", r.summary.policy,
                            absl::StrCat(z.tier, " ", z.size, "n"), z.jobs,
                            dur(z.queue_delay_s.mean), dur(z.queue_delay_s.p95), dur(z.jct_s.mean),
                            dur(z.jct_s.p95));
    }
    absl::StrAppendFormat(&out,
                          "%-14s utilisation %.1f%% over the submit window, %.1f%% to the last "
                          "finish; %d decisions, %.2f s wall, %.2f s CPU\n",
                          r.summary.policy, 100 * r.summary.window_utilisation,
                          100 * r.summary.makespan_utilisation, r.summary.decide_calls,
                          r.summary.wall_s, r.summary.cpu_s);
    absl::StrAppendFormat(&out,
                          "%-14s GPU-hours idle while jobs waited %.0f, of which on reserved "
                          "nodes %.0f\n",
                          r.summary.policy, r.summary.idle_waiting_gpu_hours,
                          r.summary.reserved_idle_gpu_hours);
  }
  return out;
}

absl::Status Plot(const std::string& dir, const std::string& python) {
  std::vector<std::string> candidates;
  if (!python.empty()) {
    candidates.push_back(python);
  } else {
    candidates = {"python3", "/usr/bin/python3"};
  }
  std::string chosen;
  for (const std::string& c : candidates) {
    const std::string probe = absl::StrCat("'", c, "' -c 'import matplotlib' >/dev/null 2>&1");
    if (std::system(probe.c_str()) == 0) {
      chosen = c;
      break;
    }
  }
  if (chosen.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no Python with matplotlib among ", absl::StrJoin(candidates, ", "),
                     "; install python3-matplotlib (scripts/install-deps.sh) or pass --python"));
  }
  // The script comes on stdin; the folder is its argument (quoted: it may hold spaces).
  std::string quoted = "'";
  for (char c : dir) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += "'";
  const std::string cmd = absl::StrCat("'", chosen, "' - ", quoted);
  FILE* pipe = popen(cmd.c_str(), "w");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run ", cmd));
  std::fputs(kPlotScript, pipe);
  const int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("plot script failed (", cmd, ")"));
  }
  return absl::OkStatus();
}

}  // namespace hai::sim
