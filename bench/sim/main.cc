// hai-sim: replays a job trace on a described cluster, in virtual time, through the real
// scheduling core (hai::policy::Decide) and through the strict FIFO baseline, and writes the
// figures (JSON, CSV, optional PNG plots) into one folder. docs/simulation.md has the model,
// every option and the Philly results. Exit codes: 0 ok, 2 bad input, 1 anything else.
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <filesystem>
#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "bench/sim/generator.h"
#include "bench/sim/metrics.h"
#include "bench/sim/quota_file.h"
#include "bench/sim/replay.h"
#include "bench/sim/report.h"
#include "bench/sim/tiers.h"
#include "bench/sim/trace.h"
#include "common/status_macros.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/tier.h"

namespace hai::sim {
namespace {

struct Args {
  std::string trace;
  std::string cluster;
  bool generate = false;
  WorkloadSpec gen;
  double scale = 1.0;
  int gpus_per_node = 8;
  std::string group_column;
  std::string tier_column;
  std::vector<std::string> tier_shares;
  std::string default_tier = "NORMAL";
  uint64_t seed = 1;
  std::string default_user = "anonymous";
  int64_t user_quota_nodes = 0;
  std::string quota_file;
  std::string policies = "fifo,hai";
  int64_t min_runtime_s = 0;
  std::vector<std::string> min_runtime_by_tier;
  int64_t demote_after_s = 1800;
  bool suspend_over_quota = false;
  CostModel cost;
  int64_t interval_s = 0;
  std::string time_limits = "trace";
  bool no_prune = false;
  int64_t util_bucket_s = 3600;
  std::string out;
  bool plot = false;
  std::string python;
};

absl::StatusOr<std::pair<policy::Tier, int64_t>> ParseTierSeconds(const std::string& text) {
  std::vector<std::string> kv = absl::StrSplit(text, '=');
  int64_t s = 0;
  std::optional<policy::Tier> tier;
  if (kv.size() == 2) tier = policy::ParseTier(kv[0]);
  if (!tier || !absl::SimpleAtoi(kv[1], &s) || s < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' must look like LOW=600 (tier=seconds)"));
  }
  return std::make_pair(*tier, s);
}

// The trace and cluster: read from the files, or generated (and written into the output
// folder as trace.csv and cluster.csv, so the run can be repeated from files).
struct Input {
  std::vector<TraceJob> trace;
  std::vector<GroupSpec> groups;
  nlohmann::json info;  // where they came from, for summary.json
};

absl::StatusOr<Input> LoadInput(const Args& a) {
  Input in;
  if (a.generate) {
    if (!a.trace.empty() || !a.cluster.empty()) {
      return absl::InvalidArgumentError("--generate excludes --trace and --cluster");
    }
    ASSIGN_OR_RETURN(Workload w, GenerateGangHeavy(a.gen));
    std::error_code ec;
    std::filesystem::create_directories(a.out, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create ", a.out, ": ", ec.message()));
    const std::string trace = (std::filesystem::path(a.out) / "trace.csv").string();
    const std::string cluster = (std::filesystem::path(a.out) / "cluster.csv").string();
    RETURN_IF_ERROR(WriteWorkload(w, trace, cluster));
    in.info = {{"trace", trace},
               {"cluster", cluster},
               {"generated",
                {{"workload", "gang-heavy"},
                 {"nodes", a.gen.nodes},
                 {"gpus_per_node", a.gen.gpus_per_node},
                 {"load", a.gen.load},
                 {"days", a.gen.days},
                 {"seed", a.gen.seed},
                 {"offered_gpu_hours", w.offered_gpu_hours}}}};
    in.trace = std::move(w.jobs);
    in.groups = std::move(w.groups);
    return in;
  }
  if (a.trace.empty() || a.cluster.empty()) {
    return absl::InvalidArgumentError("--trace and --cluster are required (or --generate)");
  }
  ASSIGN_OR_RETURN(in.trace, LoadTrace(a.trace, {.group_column = a.group_column,
                                                 .tier_column = a.tier_column,
                                                 .default_user = a.default_user}));
  ASSIGN_OR_RETURN(in.groups, LoadCluster(a.cluster, a.gpus_per_node));
  in.info = {{"trace", a.trace}, {"cluster", a.cluster}};
  return in;
}

absl::Status Run(const Args& a) {
  ASSIGN_OR_RETURN(Input input, LoadInput(a));
  std::vector<TraceJob>& trace = input.trace;
  ASSIGN_OR_RETURN(std::vector<GroupSpec> groups, ScaleCluster(std::move(input.groups), a.scale));

  TierRule rule;
  rule.from_column = !a.tier_column.empty();
  rule.seed = a.seed;
  std::optional<policy::Tier> default_tier = policy::ParseTier(a.default_tier);
  if (!default_tier) {
    return absl::InvalidArgumentError(
        absl::StrCat("--default-tier: unknown tier '", a.default_tier, "'"));
  }
  rule.default_tier = *default_tier;
  if (rule.from_column && !a.tier_shares.empty()) {
    return absl::InvalidArgumentError("--tier-column and --tier-share exclude each other");
  }
  for (const std::string& s : a.tier_shares) {
    ASSIGN_OR_RETURN(auto share, ParseTierShare(s));
    rule.shares.push_back(share);
  }
  ASSIGN_OR_RETURN(std::vector<policy::Tier> tiers, AssignTiers(trace, rule));
  ASSIGN_OR_RETURN(std::vector<SimJob> jobs, BuildJobs(trace, groups, tiers));
  ASSIGN_OR_RETURN(auto limit_mode, ParseLimitMode(a.time_limits));
  AssignLimits(jobs, limit_mode.first, limit_mode.second);

  std::map<policy::QuotaKey, int64_t> quota;
  if (!a.quota_file.empty()) {
    if (a.user_quota_nodes > 0) {
      return absl::InvalidArgumentError("--quota and --user-quota-nodes exclude each other");
    }
    ASSIGN_OR_RETURN(quota, LoadQuota(a.quota_file, jobs));
  } else {
    quota = DefaultQuota(jobs, groups, a.user_quota_nodes);
  }

  std::vector<PolicyKind> kinds;
  for (absl::string_view name : absl::StrSplit(a.policies, ',', absl::SkipEmpty())) {
    ASSIGN_OR_RETURN(PolicyKind k, ParsePolicy(name));
    kinds.push_back(k);
  }
  if (kinds.empty()) return absl::InvalidArgumentError("--policies names no policy");

  SimConfig config;
  config.cost = a.cost;
  config.interval_s = a.interval_s;
  config.prune_queue = !a.no_prune;
  config.util_bucket_s = a.util_bucket_s;
  if (a.util_bucket_s < 1) return absl::InvalidArgumentError("--util-bucket-s must be >= 1");
  if (a.min_runtime_s < 0 || a.demote_after_s < 0) {
    return absl::InvalidArgumentError("--min-runtime-s and --demote-after-s must be >= 0");
  }
  config.policy_config.default_min_runtime = absl::Seconds(a.min_runtime_s);
  config.policy_config.above_normal_demote_after = absl::Seconds(a.demote_after_s);
  config.policy_config.suspend_over_quota = a.suspend_over_quota;
  nlohmann::json min_by_tier = nlohmann::json::object();
  for (const std::string& s : a.min_runtime_by_tier) {
    ASSIGN_OR_RETURN(auto tier_s, ParseTierSeconds(s));
    config.policy_config.min_runtime[tier_s.first] = absl::Seconds(tier_s.second);
    min_by_tier[std::string(policy::TierName(tier_s.first))] = tier_s.second;
  }

  std::vector<PolicyRun> runs;
  for (PolicyKind k : kinds) {
    config.policy = k;
    ASSIGN_OR_RETURN(SimResult r, Replay(jobs, groups, quota, config));
    Summary s = Summarize(jobs, r);
    runs.push_back({std::move(r), std::move(s)});
  }

  int64_t nodes = 0;
  int64_t gpus = 0;
  nlohmann::json group_json = nlohmann::json::array();
  for (const GroupSpec& g : groups) {
    nodes += g.nodes;
    gpus += int64_t{g.nodes} * g.gpus_per_node;
    group_json.push_back(
        {{"name", g.name}, {"nodes", g.nodes}, {"gpus_per_node", g.gpus_per_node}});
  }
  nlohmann::json tier_counts = nlohmann::json::object();
  for (const SimJob& j : jobs) {
    tier_counts[std::string(policy::TierName(j.tier))] =
        tier_counts.value(std::string(policy::TierName(j.tier)), 0) + 1;
  }
  nlohmann::json shares = nlohmann::json::object();
  for (const auto& [tier, pct] : rule.shares) shares[std::string(policy::TierName(tier))] = pct;
  nlohmann::json run_info = input.info;
  run_info.update(nlohmann::json{
      {"scale", a.scale},
      {"nodes", nodes},
      {"gpus", gpus},
      {"groups", group_json},
      {"jobs", jobs.size()},
      {"tier_counts", tier_counts},
      {"tier_rule",
       {{"column", a.tier_column},
        {"shares_percent", shares},
        {"seed", a.seed},
        {"default_tier", a.default_tier}}},
      {"quota", a.quota_file.empty()
                    ? (a.user_quota_nodes > 0
                           ? absl::StrCat(a.user_quota_nodes, " nodes per user, group and tier")
                           : std::string("unlimited"))
                    : a.quota_file},
      {"cost_model",
       {{"suspend_grace_s", a.cost.suspend_grace_s},
        {"checkpoint_interval_s", a.cost.checkpoint_interval_s},
        {"restart_overhead_s", a.cost.restart_overhead_s}}},
      {"min_runtime_s", a.min_runtime_s},
      {"min_runtime_s_by_tier", min_by_tier},
      {"above_normal_demote_after_s", a.demote_after_s},
      {"suspend_over_quota", a.suspend_over_quota},
      {"interval_s", a.interval_s},
      {"time_limits", a.time_limits},
      {"prune_queue", !a.no_prune},
  });
  RETURN_IF_ERROR(WriteReport(a.out, run_info, jobs, runs));
  std::cout << FormatTable(runs);
  if (a.plot) RETURN_IF_ERROR(Plot(a.out, a.python));
  std::cout << "wrote " << a.out << "/summary.json, summary.csv, utilisation.csv, jobs-*.csv"
            << (a.plot ? ", utilisation.png, queue_delay_cdf.png" : "") << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace hai::sim

int main(int argc, char** argv) {
  hai::sim::Args a;
  CLI::App app{
      "hai-sim: replay a job trace through the hai scheduling core and a FIFO "
      "baseline (docs/simulation.md)"};
  app.add_option("--trace", a.trace, "job trace CSV (job_id,user,vc,submit_time_s,...)");
  app.add_option("--cluster", a.cluster,
                 "cluster CSV (group|vc,nodes|node_num[,gpus_per_node]) or TOML ([[group]])");
  app.add_flag("--generate", a.generate,
               "instead of --trace and --cluster: generate the gang-heavy workload "
               "(docs/simulation.md) into OUT/trace.csv and OUT/cluster.csv");
  app.add_option("--gen-nodes", a.gen.nodes, "generated group's nodes")->capture_default_str();
  app.add_option("--gen-gpus-per-node", a.gen.gpus_per_node, "generated group's GPUs per node")
      ->capture_default_str();
  app.add_option("--gen-load", a.gen.load,
                 "offered load: GPU-hours asked / GPU-hours of the group over the window")
      ->capture_default_str();
  app.add_option("--gen-days", a.gen.days, "submit window in days")->capture_default_str();
  app.add_option("--gen-seed", a.gen.seed, "seed of the generated jobs")->capture_default_str();
  app.add_option("--out", a.out, "output folder (created)")->required();
  app.add_option("--scale", a.scale, "multiply every group's node count (0.5 = half size)")
      ->capture_default_str();
  app.add_option("--gpus-per-node", a.gpus_per_node,
                 "GPUs per node where the cluster file has none")
      ->capture_default_str();
  app.add_option("--group-column", a.group_column,
                 "trace column naming the group (default: group or vc)");
  app.add_option("--tier-column", a.tier_column, "trace column holding tier names");
  app.add_option("--tier-share", a.tier_shares,
                 "TIER=PERCENT: that share of jobs gets TIER (seeded; repeatable)");
  app.add_option("--default-tier", a.default_tier, "tier of every other job")
      ->capture_default_str();
  app.add_option("--seed", a.seed, "seed of the tier shares")->capture_default_str();
  app.add_option("--default-user", a.default_user, "user of jobs with an empty user cell")
      ->capture_default_str();
  app.add_option("--user-quota-nodes", a.user_quota_nodes,
                 "nodes per user, group and tier (0 = no limit)")
      ->capture_default_str();
  app.add_option("--quota", a.quota_file,
                 "quota CSV owner_kind,owner,resource,quota (resource node-<group>-<TIER>)");
  app.add_option("--policies", a.policies, "comma list of fifo, hai, hai-nopreempt")
      ->capture_default_str();
  app.add_option("--min-runtime-s", a.min_runtime_s,
                 "running tasks younger than this are never suspended")
      ->capture_default_str();
  app.add_option("--min-runtime", a.min_runtime_by_tier,
                 "TIER=SECONDS: minimum runtime of victims of that tier (repeatable)");
  app.add_option("--demote-after-s", a.demote_after_s, "ABOVE_NORMAL runs as NORMAL after this")
      ->capture_default_str();
  app.add_flag("--suspend-over-quota", a.suspend_over_quota,
               "suspend the youngest tasks of an owner over its quota, as haid's "
               "scheduler.suspend_over_quota (an ABOVE_NORMAL task demoted beyond the NORMAL "
               "quota)");
  app.add_option("--suspend-grace-s", a.cost.suspend_grace_s,
                 "suspend notice -> the victim's GPUs are free")
      ->capture_default_str();
  app.add_option("--checkpoint-interval-s", a.cost.checkpoint_interval_s,
                 "productive seconds between checkpoints (0 = checkpoint on notice)")
      ->capture_default_str();
  app.add_option("--restart-overhead-s", a.cost.restart_overhead_s,
                 "seconds a resumed attempt spends reloading")
      ->capture_default_str();
  app.add_option("--interval-s", a.interval_s,
                 "decide only at multiples of this many virtual seconds (0 = at every event)")
      ->capture_default_str();
  app.add_option("--time-limits", a.time_limits,
                 "jobs' time limits: trace (the time_limit_s column), none, or "
                 "round-up:SECONDS (each job's duration rounded up to a multiple)")
      ->capture_default_str();
  app.add_flag("--no-prune", a.no_prune,
               "hand the policy every queued task (slow; same schedule, for checking)");
  app.add_option("--util-bucket-s", a.util_bucket_s, "utilisation time-series bucket")
      ->capture_default_str();
  app.add_flag("--plot", a.plot, "also write utilisation.png and queue_delay_cdf.png");
  app.add_option("--python", a.python, "Python with matplotlib for --plot");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const absl::Status s = hai::sim::Run(a);
  if (!s.ok()) {
    std::cerr << "hai-sim: " << s.message() << "\n";
    return s.code() == absl::StatusCode::kInvalidArgument ||
                   s.code() == absl::StatusCode::kNotFound ||
                   s.code() == absl::StatusCode::kFailedPrecondition
               ? 2
               : 1;
  }
  return 0;
}
