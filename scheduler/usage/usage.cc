#include "scheduler/usage/usage.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/model/tier.h"

namespace hai::usage {
namespace {

// Adds GPU-time to the cells while splitting a segment at bucket boundaries.
class Accumulator {
 public:
  Accumulator(const Window& w, Accounting* out)
      : since_(w.since),
        until_(w.until),
        bucket_(w.bucket > 0 ? w.bucket : w.until - w.since),
        out_(out) {}

  // Adds `gpus` GPUs over [from, to) (already inside the window) to the cell of
  // (owner, node_group), in the field `field`.
  void Add(Micros from, Micros to, int64_t gpus, int32_t owner, int32_t node_group,
           int64_t Figures::*field) {
    while (from < to) {
      const int64_t b = (from - since_) / bucket_;
      const Micros bucket_end = std::min(until_, since_ + (b + 1) * bucket_);
      const Micros piece_end = std::min(to, bucket_end);
      out_->cells[CellKey{b, owner, node_group}].*field += gpus * (piece_end - from);
      from = piece_end;
    }
  }

 private:
  Micros since_, until_, bucket_;
  Accounting* out_;
};

absl::Status Check(const History& h, const Window& w) {
  if (w.until <= w.since) return absl::InvalidArgumentError("usage window is empty or reversed");
  if (w.bucket < 0 || (w.bucket > 0 && (w.until - w.since) % w.bucket != 0)) {
    return absl::InvalidArgumentError("usage bucket must divide the window");
  }
  for (const NodeHistory& n : h.nodes) {
    Micros last = INT64_MIN;
    for (const NodeSpan& s : n.spans) {
      if (s.to <= s.from || s.from < last || s.gpus < 0 || s.gpus > 64 || s.node_group < 0 ||
          s.node_group >= static_cast<int32_t>(h.node_groups.size())) {
        return absl::InvalidArgumentError(absl::StrCat("malformed spans of node ", n.name));
      }
      last = s.to;
    }
  }
  for (const RankHold& r : h.holds) {
    if (r.node < 0 || r.node >= static_cast<int32_t>(h.nodes.size()) || r.owner < 0 ||
        r.owner >= static_cast<int32_t>(h.owners.size())) {
      return absl::InvalidArgumentError("rank hold names an unknown node or owner");
    }
  }
  return absl::OkStatus();
}

// One GPU's attributed piece of a hold: [from, to) after overlap removal.
struct Piece {
  Micros from, to;
  const RankHold* hold;
};

}  // namespace

absl::StatusOr<Accounting> Account(const History& h, const Window& w) {
  if (absl::Status s = Check(h, w); !s.ok()) return s;
  Accounting out;
  // Built whole rather than resize()d: GCC 12 at -O3 misreads resize() on a freshly
  // default-constructed member as a memset of 2^64 bytes (-Wstringop-overflow).
  out.per_node = std::vector<Figures>(h.nodes.size());
  out.capacity_per_node = std::vector<int64_t>(h.nodes.size(), 0);
  Accumulator acc(w, &out);

  // Holds per node, sorted by start (then by address, so ties are deterministic).
  std::vector<std::vector<const RankHold*>> by_node(h.nodes.size());
  for (const RankHold& r : h.holds) {
    if (r.end > w.since && r.start < w.until && r.end > r.start && r.gpus != 0) {
      by_node[r.node].push_back(&r);
    }
  }
  std::vector<Piece> pieces;
  for (size_t n = 0; n < h.nodes.size(); ++n) {
    const NodeHistory& node = h.nodes[n];
    Figures& nf = out.per_node[n];
    // Capacity: every span's GPUs over its time in the window, first counted free (idle or
    // unavailable); allocated pieces are moved out of it below.
    for (const NodeSpan& s : node.spans) {
      const Micros from = std::max(s.from, w.since);
      const Micros to = std::min(s.to, w.until);
      if (from >= to) continue;
      const int64_t t = static_cast<int64_t>(s.gpus) * (to - from);
      out.capacity_per_node[n] += t;
      const bool ready = s.availability == Availability::kReady;
      acc.Add(from, to, s.gpus, kUnallocated, s.node_group,
              ready ? &Figures::idle : &Figures::unavailable);
      (ready ? nf.idle : nf.unavailable) += t;
    }
    std::vector<const RankHold*>& holds = by_node[n];
    if (holds.empty()) continue;
    std::stable_sort(holds.begin(), holds.end(),
                     [](const RankHold* a, const RankHold* b) { return a->start < b->start; });
    int max_gpus = 0;
    for (const NodeSpan& s : node.spans) max_gpus = std::max(max_gpus, s.gpus);
    for (int g = 0; g < max_gpus; ++g) {
      // Rule 3: the earliest-started holder of GPU g keeps any overlap.
      pieces.clear();
      Micros covered = INT64_MIN;
      for (const RankHold* r : holds) {
        if ((r->gpus >> g & 1) == 0) continue;
        const Micros from = std::max({r->start, covered, w.since});
        const Micros to = std::min(r->end, w.until);
        if (from < to) pieces.push_back({from, to, r});
        covered = std::max(covered, r->end);
      }
      for (const Piece& p : pieces) {
        // The spans this piece overlaps (rules 1, 2 and 4).
        auto it = std::upper_bound(node.spans.begin(), node.spans.end(), p.from,
                                   [](Micros t, const NodeSpan& s) { return t < s.to; });
        for (; it != node.spans.end() && it->from < p.to; ++it) {
          const NodeSpan& s = *it;
          if (g >= s.gpus) continue;
          const Micros from = std::max(p.from, s.from);
          const Micros to = std::min(p.to, s.to);
          if (from >= to) continue;
          const bool ready = s.availability == Availability::kReady;
          const RankHold& r = *p.hold;
          acc.Add(from, to, 1, r.owner, s.node_group, &Figures::allocated);
          acc.Add(from, to, -1, kUnallocated, s.node_group,
                  ready ? &Figures::idle : &Figures::unavailable);
          nf.allocated += to - from;
          (ready ? nf.idle : nf.unavailable) -= to - from;
          // Rule 5. The restart is [start, running); the grace [grace_from, end) counts
          // only after the restart so an attempt preempted before it ran is not counted
          // twice.
          Micros grace_from = std::max(from, r.grace_from);
          if (r.restart) {
            const Micros lost_to = std::min(to, r.running);
            if (from < lost_to) {
              acc.Add(from, lost_to, 1, r.owner, s.node_group, &Figures::lost_to_preemption);
              nf.lost_to_preemption += lost_to - from;
            }
            grace_from = std::max(grace_from, lost_to);
          }
          if (grace_from < to) {
            acc.Add(grace_from, to, 1, r.owner, s.node_group, &Figures::lost_to_preemption);
            nf.lost_to_preemption += to - grace_from;
          }
        }
      }
    }
  }
  // Drop cells that came out zero (free time fully allocated), so reports stay short.
  absl::erase_if(out.cells, [](const auto& kv) { return kv.second == Figures{}; });
  return out;
}

std::vector<LedgerRow> ToLedger(const Accounting& a, const History& h, int64_t bucket) {
  std::map<std::tuple<int32_t, int32_t>, Figures> merged;
  for (const auto& [k, f] : a.cells) {
    if (bucket >= 0 && k.bucket != bucket) continue;
    merged[{k.node_group, k.owner}] += f;
  }
  std::vector<LedgerRow> rows;
  rows.reserve(merged.size());
  for (const auto& [k, f] : merged) {
    const auto [ng, owner] = k;
    LedgerRow r;
    r.node_group = h.node_groups[ng];
    if (owner != kUnallocated) {
      r.user = h.owners[owner].user;
      r.group = h.owners[owner].group;
      r.tier = h.owners[owner].tier;
    }
    r.figures = f;
    rows.push_back(std::move(r));
  }
  return rows;
}

absl::StatusOr<GroupBy> ParseGroupBy(std::string_view name) {
  if (name == "user") return GroupBy::kUser;
  if (name == "group") return GroupBy::kGroup;
  if (name == "tier") return GroupBy::kTier;
  if (name == "node-group") return GroupBy::kNodeGroup;
  return absl::InvalidArgumentError(
      absl::StrCat("by must be user, group, tier or node-group, not '", std::string(name), "'"));
}

std::string_view Name(GroupBy by) {
  switch (by) {
    case GroupBy::kUser: return "user";
    case GroupBy::kGroup: return "group";
    case GroupBy::kTier: return "tier";
    case GroupBy::kNodeGroup: return "node-group";
  }
  return "user";
}

std::vector<Row> Group(const std::vector<LedgerRow>& ledger, GroupBy by) {
  std::map<std::string, Figures> merged;
  for (const LedgerRow& r : ledger) {
    std::string key;
    if (by == GroupBy::kNodeGroup) {
      key = r.node_group;
    } else if (r.tier < 0 && r.user.empty()) {
      key = std::string(kUnallocatedKey);
    } else if (by == GroupBy::kUser) {
      key = r.user;
    } else if (by == GroupBy::kGroup) {
      key = r.group;
    } else {
      auto tier = model::TierFromValue(r.tier);
      key = tier ? std::string(model::TierName(*tier)) : absl::StrCat(r.tier);
    }
    merged[key] += r.figures;
  }
  std::vector<Row> rows;
  rows.reserve(merged.size());
  for (auto& [k, f] : merged) rows.push_back({k, f});
  return rows;
}

}  // namespace hai::usage
