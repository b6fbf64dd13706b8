// Tier assignment for trace jobs: from a trace column, or a seeded rule such as "10% of the
// jobs HIGH". Traces like Philly carry no priorities, so the rule is how a replay asks "what
// if this share of the work were urgent"; seeding keeps every run of it comparable.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/sim/trace.h"
#include "scheduler/policy/types.h"

namespace hai::sim {

struct TierRule {
  // Read each job's tier from TraceJob::tier (a tier name); empty cells take default_tier.
  bool from_column = false;
  // Otherwise: each job independently gets tier shares[i].first with probability
  // shares[i].second percent (a seeded hash of seed and the job's row, so a job keeps its
  // tier when other rows change), else default_tier. Shares must sum to <= 100.
  std::vector<std::pair<policy::Tier, double>> shares;
  uint64_t seed = 1;
  policy::Tier default_tier = policy::Tier::kNormal;
};

// Parses "HIGH=10" (tier name, percent).
absl::StatusOr<std::pair<policy::Tier, double>> ParseTierShare(const std::string& text);

// One tier per job. InvalidArgument for an unknown tier name in the column (naming the job)
// or shares outside [0, 100].
absl::StatusOr<std::vector<policy::Tier>> AssignTiers(const std::vector<TraceJob>& jobs,
                                                      const TierRule& rule);

}  // namespace hai::sim
