// hai-sim's --quota file: rows of the `quota` table as CSV, resolved the way haid resolves
// them. Kept out of main() so the tests and fuzz/sim_csv_fuzz.cc read it through the same code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/sim/replay.h"
#include "scheduler/policy/quota.h"

namespace hai::sim {

// Quota rows from a CSV `owner_kind,owner,resource,quota` (the `quota` table's columns; the
// first line is a header), resolved the way haid resolves them (policy::ResolveQuota). Every
// user of `jobs` is known and belongs to no user group. NotFound for a missing file,
// InvalidArgument naming file:line for a malformed row.
absl::StatusOr<std::map<policy::QuotaKey, int64_t>> LoadQuota(const std::string& path,
                                                              const std::vector<SimJob>& jobs);

}  // namespace hai::sim
