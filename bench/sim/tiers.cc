// Tier assignment (see tiers.h).
#include "bench/sim/tiers.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "scheduler/policy/tier.h"

namespace hai::sim {
namespace {

// SplitMix64: a well-mixed 64-bit hash of (seed, row), portable and stable across runs.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

absl::StatusOr<std::pair<policy::Tier, double>> ParseTierShare(const std::string& text) {
  const size_t eq = text.find('=');
  double pct = 0;
  if (eq == std::string::npos || !absl::SimpleAtod(text.substr(eq + 1), &pct)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tier share '", text, "' must look like HIGH=10 (tier=percent)"));
  }
  const std::optional<policy::Tier> tier = policy::ParseTier(text.substr(0, eq));
  if (!tier) {
    return absl::InvalidArgumentError(
        absl::StrCat("tier share '", text, "': unknown tier '", text.substr(0, eq), "'"));
  }
  if (!(pct >= 0 && pct <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tier share '", text, "': percent must be in [0, 100]"));
  }
  return std::make_pair(*tier, pct);
}

absl::StatusOr<std::vector<policy::Tier>> AssignTiers(const std::vector<TraceJob>& jobs,
                                                      const TierRule& rule) {
  std::vector<policy::Tier> out(jobs.size(), rule.default_tier);
  if (rule.from_column) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].tier.empty()) continue;
      const std::optional<policy::Tier> t = policy::ParseTier(jobs[i].tier);
      if (!t) {
        return absl::InvalidArgumentError(absl::StrCat(
            "job ", jobs[i].id, ": tier '", jobs[i].tier,
            "' is not one of LOW, BELOW_NORMAL, NORMAL, ABOVE_NORMAL, HIGH, VERY_HIGH, "
            "EXTREME_HIGH"));
      }
      out[i] = *t;
    }
    return out;
  }
  double total = 0;
  for (const auto& [tier, pct] : rule.shares) {
    if (!(pct >= 0 && pct <= 100)) {
      return absl::InvalidArgumentError("tier shares must be percentages in [0, 100]");
    }
    total += pct;
  }
  if (total > 100 + 1e-9) {
    return absl::InvalidArgumentError(
        absl::StrCat("tier shares add up to ", total, "%, more than 100%"));
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    // Uniform in [0, 100) from the top 53 bits.
    const double u =
        static_cast<double>(Mix(rule.seed * 0x100000001B3ull ^ Mix(i)) >> 11) * 0x1p-53 * 100;
    double acc = 0;
    for (const auto& [tier, pct] : rule.shares) {
      acc += pct;
      if (u < acc) {
        out[i] = tier;
        break;
      }
    }
  }
  return out;
}

}  // namespace hai::sim
