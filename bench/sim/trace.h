// Inputs of the trace-replay simulator: a job trace CSV and a cluster description (CSV or
// TOML), parsed into plain values with a typed error naming the file, line and column of
// anything malformed. Kept apart from the replay so tests and the reference script agree on
// one reading of the files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hai::sim {

// One job as the trace gives it. Times are virtual seconds since the trace's origin.
struct TraceJob {
  std::string id;
  std::string user;   // empty when the trace has none (TraceOptions::default_user applies)
  std::string group;  // node group (Philly: the VC)
  int64_t submit_s = 0;
  int64_t duration_s = 0;
  int gpus = 0;      // total GPUs
  int nodes = 0;     // 0: not given, derived from gpus and the group's node size
  std::string tier;  // raw cell of the tier column; empty when none
  int64_t time_limit_s = 0;  // the user's time limit; 0: none given
};

struct TraceOptions {
  // Column naming the node group; "vc" and "group" are both accepted when empty.
  std::string group_column;
  // Column holding tier names (HIGH, NORMAL, ...); empty: no tier column is read.
  std::string tier_column;
  // User for jobs whose user cell is empty or absent.
  std::string default_user = "anonymous";
};

// Reads `job_id,user,vc,submit_time_s,duration_s,num_gpus,num_nodes,...` (header names the
// columns; their order and extra columns do not matter). Required: job_id, submit_time_s,
// duration_s, num_gpus and the group column; user and num_nodes may be absent or empty.
// Times may carry a fraction and are rounded to whole seconds. Jobs come back in file order.
// InvalidArgument for a bad header or cell (file:line, column, value); NotFound for a
// missing file.
absl::StatusOr<std::vector<TraceJob>> LoadTrace(const std::string& path,
                                                const TraceOptions& options);

// One node group of the simulated cluster.
struct GroupSpec {
  std::string name;
  int nodes = 0;
  int gpus_per_node = 0;
};

// Reads a cluster description:
//  - CSV with a header: group (or vc), nodes (or node_num), optional gpus_per_node;
//  - TOML (.toml): [[group]] tables with name, nodes and optional gpus_per_node.
// Missing gpus_per_node cells take `default_gpus_per_node`. Group names must be non-empty,
// unique and free of '-' (quota resources are node-<group>-<TIER>).
absl::StatusOr<std::vector<GroupSpec>> LoadCluster(const std::string& path,
                                                   int default_gpus_per_node);

// Scales node counts: max(1, round(nodes * scale)), halves rounding up. scale in (0, 64].
absl::StatusOr<std::vector<GroupSpec>> ScaleCluster(std::vector<GroupSpec> groups, double scale);

// Splits one CSV line (RFC 4180 quoting: "a ""b"",c" is one field). Exposed for tests.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(const std::string& line);

}  // namespace hai::sim
