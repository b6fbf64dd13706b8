// A synthetic workload for hai-sim: one node group under a gang-heavy mix at a chosen offered
// load. The Philly trace is mostly 1-GPU jobs at low load, where reservations cost nothing;
// the cost of one reservation per tier head shows only when large gangs and small jobs share
// a busy group, so this generator makes that workload reproducible from a seed.
//
// Distributions (docs/simulation.md has the table and why):
//  - size classes by share of jobs: 1 node 65% (1, 2, 4 or 8 GPUs packed on one node with
//    probabilities 35/20/20/25%), 2-4 nodes 17%, 5-8 nodes 8%, 9-16 nodes 10% (nodes
//    uniform within the class, capped at the group's size; multi-node jobs hold whole
//    nodes);
//  - duration: lognormal per class, median 1 h / 2 h / 3 h / 4 h, sigma 1.2 for 1 node and
//    1.0 for the gangs, clipped to [2 min, 72 h], whole seconds;
//  - arrivals: jobs are drawn until their GPU-hours (GPUs held x duration) reach
//    `load` x the group's GPU-hours over `days`; their submit times are then uniform over
//    the window, sorted (a Poisson process conditioned on its count), so the offered load
//    is the target to within one job.
// Deterministic: SplitMix64 from `seed` with its own uniform and normal (Box-Muller)
// sampling, since std:: distributions differ between standard libraries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/sim/trace.h"

namespace hai::sim {

struct WorkloadSpec {
  std::string group = "gangs";
  int nodes = 20;
  int gpus_per_node = 8;
  double load = 0.93;  // offered GPU-hours / available GPU-hours over the submit window
  int64_t days = 90;   // submit window
  uint64_t seed = 1;
};

struct Workload {
  std::vector<TraceJob> jobs;  // in submit order, ids gen-000001, ...
  std::vector<GroupSpec> groups;
  double offered_gpu_hours = 0;
};

// InvalidArgument for nodes outside [1, 4096], GPUs per node outside [1, 64], load outside
// (0, 4], or days outside [1, 3650].
absl::StatusOr<Workload> GenerateGangHeavy(const WorkloadSpec& spec);

// Writes the jobs as a trace CSV hai-sim reads back (--trace) and the group as a cluster
// CSV (--cluster), so a generated run can be replayed or inspected by hand.
absl::Status WriteWorkload(const Workload& w, const std::string& trace_path,
                           const std::string& cluster_path);

}  // namespace hai::sim
