// Reads what usage accounting needs from Postgres (host_state_log, attempts, pods) into a
// usage::History, keeps the rollups of closed hours (usage_hourly) and of the UTC days and
// weeks whose hours are all rolled up (usage_rollups), and answers a window as the rollups of
// its whole weeks, days and hours plus the exact computation of its edges. All
// arithmetic is the pure library's (scheduler/usage/usage.h); docs/usage.md has the rules.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "scheduler/store/pool.h"
#include "scheduler/usage/usage.h"

namespace hai::store {

struct UsageReport {
  usage::Micros since = 0;
  usage::Micros until = 0;  // the window's end, no later than Postgres' now()
  std::vector<usage::LedgerRow> ledger;
  int64_t hours_from_rollups = 0;  // whole hours answered from usage_hourly
};

class UsageStore {
 public:
  // An hour is rolled up once it ended this long ago: an attempt's timestamps come from
  // clock_timestamp() inside transactions that may commit a little later.
  static constexpr usage::Micros kRollupMargin = int64_t{10} * 60 * 1000000;
  static constexpr usage::Micros kHour = int64_t{3600} * 1000000;

  explicit UsageStore(ConnectionPool& pool) : pool_(pool) {}

  // The window [since, until) (until capped at Postgres' now()); InvalidArgument when empty
  // or in the future. With `only_user`, the ledger keeps that user's rows only.
  absl::StatusOr<UsageReport> Report(usage::Micros since, usage::Micros until,
                                     const std::optional<std::string>& only_user);

  // The history that overlaps [from, to), every open attempt and span ending at `now`.
  static usage::History LoadHistory(pqxx::transaction_base& tx, usage::Micros from,
                                    usage::Micros to, usage::Micros now);

  // Rolls up every closed hour in [from, to) not yet rolled up (whole hours), a week of
  // history at a time, then every day and week overlapping it whose parts are all rolled up.
  // Returns how many hours it computed.
  absl::StatusOr<int64_t> FillRollups(usage::Micros from, usage::Micros to);

 private:
  ConnectionPool& pool_;
};

}  // namespace hai::store
