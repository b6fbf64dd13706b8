// hai-sim's outputs, written into one folder so a person or a script finds them together:
//   summary.json      every figure of every policy (per tier and overall), the options used
//   summary.csv       one row per (policy, tier): the same figures, flat
//   utilisation.csv   per time bucket and policy: GPU utilisation and mean GPUs waiting
//   jobs-<policy>.csv per job: tier, shape, submit, first start, finish, suspensions, loss
// and, with --plot, utilisation.png and queue_delay_cdf.png (plot.py, run by hai-sim).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/sim/metrics.h"
#include "bench/sim/replay.h"
#include "nlohmann/json.hpp"

namespace hai::sim {

struct PolicyRun {
  SimResult result;
  Summary summary;
};

// `run_info` (trace, cluster, options) is stored under "run" in summary.json.
absl::Status WriteReport(const std::string& dir, const nlohmann::json& run_info,
                         const std::vector<SimJob>& jobs, const std::vector<PolicyRun>& runs);

// The summary of one policy as JSON (also used for the printed table's source of truth).
nlohmann::json SummaryJson(const Summary& s);

// A fixed-width table of the headline figures, for the terminal.
std::string FormatTable(const std::vector<PolicyRun>& runs);

// Runs the embedded plot script with `python` over `dir` (needs matplotlib). An empty
// `python` tries python3, then /usr/bin/python3. FailedPrecondition when no interpreter with
// matplotlib is found; Internal when the script fails.
absl::Status Plot(const std::string& dir, const std::string& python);

// The plot script's text (bench/sim/plot.py, embedded at build time).
extern const char* const kPlotScript;

}  // namespace hai::sim
