#include "scheduler/store/usage_store.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/model/states.h"

namespace hai::store {
namespace {

using usage::Micros;

// Timestamps cross the wire as integer microseconds both ways, exactly: extract(epoch) is
// numeric since Postgres 14, and the way back is integer interval arithmetic.
constexpr const char* kFrom = "(timestamptz 'epoch' + $1::bigint * interval '1 microsecond')";
constexpr const char* kTo = "(timestamptz 'epoch' + $2::bigint * interval '1 microsecond')";

std::string Us(const std::string& column) {
  return absl::StrCat("(extract(epoch from ", column, ") * 1000000)::bigint");
}

Micros FloorHour(Micros t) {
  Micros r = t % UsageStore::kHour;
  if (r < 0) r += UsageStore::kHour;
  return t - r;
}
Micros CeilHour(Micros t) {
  const Micros f = FloorHour(t);
  return f == t ? t : f + UsageStore::kHour;
}
// Periods of `len` microseconds aligned on the epoch (days, and weeks from a Thursday).
Micros Floor(Micros t, Micros len) {
  Micros r = t % len;
  if (r < 0) r += len;
  return t - r;
}
Micros Ceil(Micros t, Micros len) {
  const Micros f = Floor(t, len);
  return f == t ? t : f + len;
}

// A timestamptz literal of exact microseconds since the epoch.
std::string At(Micros t) {
  return absl::StrCat("(timestamptz 'epoch' + ", t, " * interval '1 microsecond')");
}

// The rollup periods (usage_rollups.span, in hours), longest first, and what each is summed
// from: a day from its 24 hours (usage_hourly), a week from its 7 days.
constexpr int kDaySpan = 24, kWeekSpan = 168;
constexpr int kSpans[] = {kWeekSpan, kDaySpan};

// The periods of `span` hours overlapping [from, to) whose parts are all rolled up and that
// are not rolled up themselves: recorded in usage_rollups_done and summed from their parts.
void FillPeriods(pqxx::work& tx, int span, Micros from, Micros to) {
  const Micros len = span * UsageStore::kHour;
  const Micros first = Floor(from, len), last = Ceil(to, len);
  if (first >= last) return;
  const bool of_hours = span == kDaySpan;
  const std::string parts_done =
      of_hours ? "(SELECT count(*) FROM usage_hours_done h WHERE h.hour >= d AND h.hour < d + "
                 "interval '24 hours') = 24"
               : "(SELECT count(*) FROM usage_rollups_done h WHERE h.span = 24 AND h.start >= d "
                 "AND h.start < d + interval '168 hours') = 7";
  std::vector<Micros> added;
  for (const auto& r : tx.exec(absl::StrCat(
           "INSERT INTO usage_rollups_done SELECT ", span, ", d FROM generate_series(", At(first),
           ", ", At(last - len), ", interval '", span,
           " hours') d WHERE NOT EXISTS (SELECT 1 FROM usage_rollups_done x WHERE x.span = ", span,
           " AND x.start = d) AND ", parts_done, " RETURNING ", Us("start")))) {
    added.push_back(r[0].as<int64_t>());
  }
  if (added.empty()) return;
  std::sort(added.begin(), added.end());
  // The parts of the new periods only, run by run (a day a year ago and today's are two
  // short ranges of the index, not the year between them).
  const std::string t = of_hours ? "hour" : "start";
  std::string parts = "false";
  for (size_t i = 0; i < added.size();) {
    size_t j = i + 1;
    while (j < added.size() && added[j] == added[j - 1] + len) ++j;
    absl::StrAppend(&parts, " OR (", t, " >= ", At(added[i]), " AND ", t, " < ",
                    At(added[j - 1] + len), ")");
    i = j;
  }
  tx.exec(absl::StrCat("INSERT INTO usage_rollups SELECT ", span, ", date_bin('", span, " hours', ",
                       t,
                       ", timestamptz 'epoch') AS p, node_group, user_name, user_group, tier, "
                       "sum(allocated_us), sum(lost_us), sum(idle_us), sum(unavailable_us) FROM ",
                       of_hours ? "usage_hourly WHERE (" : "usage_rollups WHERE span = 24 AND (",
                       parts, ") GROUP BY p, node_group, user_name, user_group, tier"));
}

Micros Now(pqxx::transaction_base& tx) {
  return tx.exec1(absl::StrCat("SELECT ", Us("now()")))[0].as<int64_t>();
}

void AddLedger(std::vector<usage::LedgerRow>& to, std::vector<usage::LedgerRow> rows) {
  for (usage::LedgerRow& r : rows) to.push_back(std::move(r));
}

}  // namespace

usage::History UsageStore::LoadHistory(pqxx::transaction_base& tx, Micros from, Micros to,
                                       Micros now) {
  usage::History h;
  std::map<std::string, int32_t> node_index, group_index;
  std::map<std::tuple<std::string, std::string, int>, int32_t> owner_index;
  auto node_of = [&](const std::string& name) {
    auto [it, added] = node_index.emplace(name, static_cast<int32_t>(h.nodes.size()));
    if (added) h.nodes.push_back({name, {}});
    return it->second;
  };
  auto group_of = [&](const std::string& name) {
    auto [it, added] = group_index.emplace(name, static_cast<int32_t>(h.node_groups.size()));
    if (added) h.node_groups.push_back(name);
    return it->second;
  };
  const Micros end = std::min(to, now);
  // Each node's last record at or before `from`, then every record inside the window: a
  // record holds until the node's next one (the last: until `end`).
  const pqxx::result log =
      tx.exec_params(absl::StrCat("SELECT node, t, state, node_group, gpus FROM ("
                                  " (SELECT DISTINCT ON (node) node, ",
                                  Us("at"),
                                  " AS t, id, state, node_group,"
                                  "  gpus FROM host_state_log WHERE at <= ",
                                  kFrom,
                                  ""
                                  "  ORDER BY node, at DESC, id DESC)"
                                  " UNION ALL"
                                  " (SELECT node, ",
                                  Us("at"),
                                  ", id, state, node_group, gpus FROM host_state_log"
                                  "  WHERE at > ",
                                  kFrom,
                                  ""
                                  "  AND at < ",
                                  kTo, ")) r ORDER BY node, t, id"),
                     from, end);
  for (pqxx::result::size_type i = 0; i < log.size(); ++i) {
    const auto& r = log[i];
    const std::string node = r[0].as<std::string>();
    const Micros span_from = r[1].as<int64_t>();
    const bool last = i + 1 == log.size() || log[i + 1][0].as<std::string>() != node;
    const Micros span_to = last ? end : log[i + 1][1].as<int64_t>();
    const std::string state = r[2].as<std::string>();
    const int32_t n = node_of(node);
    if (state == "removed" || span_to <= span_from) continue;
    h.nodes[n].spans.push_back(
        {.from = span_from,
         .to = span_to,
         .gpus = r[4].as<int>(),
         .availability = model::ParseNodeState(state) == model::NodeState::kReady
                             ? usage::Availability::kReady
                             : usage::Availability::kUnavailable,
         .node_group = group_of(r[3].as<std::string>())});
  }
  // Every rank of every attempt whose held span overlaps the window (attempts_held_span).
  const pqxx::result holds = tx.exec_params(
      absl::StrCat(
          "WITH primary_group AS (SELECT user_name, min(group_name) AS g"
          "  FROM user_group_members GROUP BY user_name) "
          "SELECT p.node, (SELECT coalesce(bit_or(1::bigint << x), 0) FROM unnest(p.gpus) x"
          "  WHERE x BETWEEN 0 AND 63), c.user_name, coalesce(pg.g, ''), a.tier, ",
          Us("a.scheduled_at"), ", ", Us("coalesce(a.ended_at, now())"), ", ",
          Us("coalesce(a.started_at, a.ended_at, now())"), ", ",
          Us("CASE WHEN a.preemptor_chain_id IS NOT NULL THEN a.suspend_requested_at END"),
          ", coalesce(prev.state = 'suspended' AND prev.preemptor_chain_id IS NOT NULL, false) "
          // Each attempt's chain, pods and previous attempt by their keys (LATERAL ... OFFSET
          // 0 keeps the joins nested loops over the index): the planner cannot estimate how
          // few attempts the range finds, and at its guess (1 %) it would hash all the pods.
          "FROM (SELECT * FROM attempts WHERE scheduled_at IS NOT NULL AND "
          "hai_held_span(scheduled_at, ended_at) && tstzrange(",
          kFrom, ", ", kTo,
          ") OFFSET 0) a "
          "JOIN LATERAL (SELECT user_name FROM chains WHERE chain_id = a.chain_id OFFSET 0) c "
          "ON true "
          "JOIN LATERAL (SELECT node, gpus FROM pods WHERE attempt_id = a.attempt_id OFFSET 0) p "
          "ON true "
          "LEFT JOIN LATERAL (SELECT state, preemptor_chain_id FROM attempts WHERE chain_id = "
          "a.chain_id AND attempt_no = a.attempt_no - 1 OFFSET 0) prev ON true "
          "LEFT JOIN primary_group pg ON pg.user_name = c.user_name"),
      from, end);
  h.holds.reserve(holds.size());
  for (const auto& r : holds) {
    usage::RankHold hold;
    hold.node = node_of(r[0].as<std::string>());
    hold.gpus = static_cast<uint64_t>(r[1].as<int64_t>());
    const auto key =
        std::make_tuple(r[2].as<std::string>(), r[3].as<std::string>(), r[4].as<int>());
    auto [it, added] = owner_index.emplace(key, static_cast<int32_t>(h.owners.size()));
    if (added) h.owners.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key)});
    hold.owner = it->second;
    hold.start = r[5].as<int64_t>();
    hold.end = r[6].as<int64_t>();
    hold.running = r[7].as<int64_t>();
    hold.grace_from = r[8].is_null() ? hold.end : r[8].as<int64_t>();
    hold.restart = r[9].as<bool>();
    h.holds.push_back(hold);
  }
  return h;
}

absl::StatusOr<int64_t> UsageStore::FillRollups(Micros from, Micros to) {
  int64_t computed = 0;
  absl::Status s = pool_.Write("usage rollup", [&](pqxx::work& tx) -> absl::Status {
    // One filler at a time (replicas, concurrent reports); the others wait, then find the
    // hours done.
    tx.exec("SELECT pg_advisory_xact_lock(7611, 14)");
    const Micros closed = FloorHour(Now(tx) - kRollupMargin);
    const Micros last = std::min(FloorHour(to), closed);
    const Micros first = CeilHour(from);
    if (first >= last) return absl::OkStatus();
    std::vector<Micros> missing;
    for (const auto& r : tx.exec_params(
             absl::StrCat("SELECT ", Us("h"), " FROM generate_series(", kFrom, ", ", kTo,
                          " - interval '1 hour', interval '1 hour') h WHERE NOT EXISTS "
                          "(SELECT 1 FROM usage_hours_done d WHERE d.hour = h) ORDER BY h"),
             first, last)) {
      missing.push_back(r[0].as<int64_t>());
    }
    // A recomputed hour's day and week (rolled up before its hour was deleted) are summed
    // again.
    std::set<std::pair<int, Micros>> stale;
    for (Micros hour : missing) {
      for (int span : kSpans) stale.insert({span, Floor(hour, span * kHour)});
    }
    std::string periods;
    for (const auto& [span, start] : stale) {
      absl::StrAppend(&periods, periods.empty() ? "" : " OR ", "(span = ", span,
                      " AND start = ", At(start), ")");
    }
    if (!periods.empty()) {
      tx.exec(absl::StrCat("DELETE FROM usage_rollups WHERE ", periods,
                           "; DELETE FROM usage_rollups_done WHERE ", periods));
    }
    // Contiguous runs of missing hours, at most a week each (bounded reads and memory when a
    // long history is rolled up the first time): one history load and one pass each.
    constexpr size_t kMaxRun = 7 * 24;
    for (size_t i = 0; i < missing.size();) {
      size_t j = i + 1;
      while (j < missing.size() && j - i < kMaxRun && missing[j] == missing[j - 1] + kHour) ++j;
      const Micros run_from = missing[i];
      const Micros run_to = missing[j - 1] + kHour;
      const usage::History h = LoadHistory(tx, run_from, run_to, run_to);
      auto a = usage::Account(h, {.since = run_from, .until = run_to, .bucket = kHour});
      if (!a.ok()) return a.status();
      // Multi-row INSERTs of at most 1,000 rows: few round trips, bounded statements.
      std::string values;
      int pending = 0;
      auto flush = [&] {
        if (pending == 0) return;
        tx.exec(
            absl::StrCat("INSERT INTO usage_hourly (hour, node_group, user_name, user_group, tier, "
                         "allocated_us, lost_us, idle_us, unavailable_us) VALUES ",
                         values));
        values.clear();
        pending = 0;
      };
      for (int64_t b = 0; b < static_cast<int64_t>(j - i); ++b) {
        for (const usage::LedgerRow& r : usage::ToLedger(*a, h, b)) {
          absl::StrAppend(&values, pending == 0 ? "" : ", ", "(", At(run_from + b * kHour), ", ",
                          tx.quote(r.node_group), ", ", tx.quote(r.user), ", ", tx.quote(r.group),
                          ", ", r.tier, ", ", r.figures.allocated, ", ",
                          r.figures.lost_to_preemption, ", ", r.figures.idle, ", ",
                          r.figures.unavailable, ")");
          if (++pending == 1000) flush();
        }
      }
      flush();
      i = j;
    }
    for (size_t i = 0; i < missing.size(); i += 1000) {
      std::string hours;
      for (size_t k = i; k < std::min(missing.size(), i + 1000); ++k) {
        absl::StrAppend(&hours, k == i ? "(" : ", (", At(missing[k]), ")");
      }
      tx.exec(absl::StrCat("INSERT INTO usage_hours_done VALUES ", hours));
    }
    // Days are summed from their hours and weeks from their days (also when no hour was
    // missing here: a day whose hours two reports filled is complete only after the second).
    FillPeriods(tx, kDaySpan, first, last);
    FillPeriods(tx, kWeekSpan, first, last);
    computed = static_cast<int64_t>(missing.size());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return computed;
}

absl::StatusOr<UsageReport> UsageStore::Report(Micros since, Micros until,
                                               const std::optional<std::string>& only_user) {
  if (until <= since) return absl::InvalidArgumentError("usage window: until must be after since");
  if (auto filled = FillRollups(since, until); !filled.ok()) return filled.status();
  UsageReport report;
  absl::Status s = pool_.Read("usage report", [&](pqxx::read_transaction& tx) -> absl::Status {
    const Micros now = Now(tx);
    if (since >= now) return absl::InvalidArgumentError("usage window starts in the future");
    const Micros end = std::min(until, now);
    report.since = since;
    report.until = end;
    // Whole hours that are rolled up answer from the rollups; the rest (the edges, and the
    // hours too recent to roll up) is computed exactly from the history.
    Micros rolled_from = CeilHour(since), rolled_to = rolled_from;
    for (const auto& r : tx.exec_params(
             absl::StrCat("SELECT ", Us("hour"), " FROM usage_hours_done WHERE hour >= ", kFrom,
                          " AND hour < ", kTo, " ORDER BY hour"),
             rolled_from, FloorHour(end))) {
      // Only the run of done hours that starts at the window's first whole hour.
      if (r[0].as<int64_t>() != rolled_to) break;
      rolled_to += kHour;
    }
    if (rolled_to > rolled_from) {
      // Sums of a few hundred rows per owner and node group, not 8,760 hours x them, for a
      // year: enough memory to aggregate by hashing, and no parallel workers to start for it.
      tx.exec("SET LOCAL work_mem = '64MB'; SET LOCAL max_parallel_workers_per_gather = 0");
      // The run is covered by its rolled-up weeks, then by rolled-up days outside them; the
      // gaps left are read from usage_hourly.
      std::vector<std::pair<Micros, Micros>> gaps{{rolled_from, rolled_to}};
      std::string periods = "false";
      for (int span : kSpans) {
        const Micros len = span * kHour;
        std::vector<std::pair<Micros, Micros>> left;
        for (const auto& [from, to] : gaps) {
          Micros cursor = from;
          if (Ceil(from, len) < Floor(to, len)) {
            for (const auto& r : tx.exec(absl::StrCat(
                     "SELECT ", Us("start"), " FROM usage_rollups_done WHERE span = ", span,
                     " AND start >= ", At(Ceil(from, len)), " AND start < ", At(Floor(to, len)),
                     " ORDER BY start"))) {
              const Micros start = r[0].as<int64_t>();
              if (cursor < start) left.emplace_back(cursor, start);
              absl::StrAppend(&periods, " OR (span = ", span, " AND start = ", At(start), ")");
              cursor = start + len;
            }
          }
          if (cursor < to) left.emplace_back(cursor, to);
        }
        gaps = std::move(left);
      }
      std::string hours = "false";
      for (const auto& [from, to] : gaps) {
        absl::StrAppend(&hours, " OR (hour >= ", At(from), " AND hour < ", At(to), ")");
      }
      for (const auto& r : tx.exec(absl::StrCat(
               "SELECT node_group, user_name, user_group, tier, sum(allocated_us), sum(lost_us),"
               " sum(idle_us), sum(unavailable_us) FROM ("
               " SELECT node_group, user_name, user_group, tier, allocated_us, lost_us, idle_us,"
               "  unavailable_us FROM usage_rollups WHERE ",
               periods,
               " UNION ALL"
               " SELECT node_group, user_name, user_group, tier, allocated_us, lost_us, idle_us,"
               "  unavailable_us FROM usage_hourly WHERE ",
               hours, ") r GROUP BY 1, 2, 3, 4"))) {
        usage::LedgerRow row{r[0].as<std::string>(),
                             r[1].as<std::string>(),
                             r[2].as<std::string>(),
                             r[3].as<int>(),
                             {}};
        row.figures = {r[4].as<int64_t>(), r[5].as<int64_t>(), r[6].as<int64_t>(),
                       r[7].as<int64_t>()};
        report.ledger.push_back(std::move(row));
      }
      report.hours_from_rollups = (rolled_to - rolled_from) / kHour;
    } else {
      rolled_from = rolled_to = since;
    }
    for (const auto& [from, to] : {std::pair{since, rolled_from}, std::pair{rolled_to, end}}) {
      if (from >= to) continue;
      const usage::History h = LoadHistory(tx, from, to, now);
      auto a = usage::Account(h, {.since = from, .until = to});
      if (!a.ok()) return a.status();
      AddLedger(report.ledger, usage::ToLedger(*a, h));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (only_user.has_value()) {
    std::erase_if(report.ledger, [&](const usage::LedgerRow& r) { return r.user != *only_user; });
  }
  return report;
}

}  // namespace hai::store
