// Decide: the scheduling pass (steps and assumptions in decide.h).
#include "scheduler/policy/decide.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "scheduler/policy/cluster.h"
#include "scheduler/policy/order.h"
#include "scheduler/policy/over_quota.h"
#include "scheduler/policy/placement.h"
#include "scheduler/policy/preemption.h"
#include "scheduler/policy/reservation.h"
#include "scheduler/policy/rules.h"
#include "scheduler/policy/tier.h"

namespace hai::policy {
namespace {

using internal::Cluster;
using internal::GroupInfo;
using internal::NodeIdx;
using internal::QueuedEntry;
using internal::QuotaLedger;

// Single-node tasks asking for some GPUs are packed; everything else takes whole nodes.
bool IsPacked(const Task& t) { return t.nodes == 1 && t.gpus_per_node > 0; }

std::string Plural(int n, std::string_view what) {
  return absl::StrCat(n, " ", internal::Av(what), n == 1 ? "" : "s");
}

std::vector<std::string> NodeNames(const Cluster& c, const std::vector<NodeIdx>& nodes) {
  std::vector<std::string> out;
  out.reserve(nodes.size());
  for (NodeIdx n : nodes) out.push_back(c.nodes()[n].node->name);
  std::sort(out.begin(), out.end());
  return out;
}

class Pass {
 public:
  Pass(const Snapshot& snapshot, const PolicyConfig& config, absl::Time now)
      : config_(config),
        cluster_(snapshot, config, now, &plan_.demotions),
        ledger_(snapshot, cluster_) {
    const size_t groups = cluster_.groups().size();
    head_done_.assign(groups * 7, false);
    packed_fail_.assign(groups, std::numeric_limits<int>::max());
    packed_nofit_.assign(groups, std::numeric_limits<int>::max());
  }

  Plan Run(const Snapshot& snapshot) {
    std::vector<QueuedEntry> queue = internal::OrderQueue(snapshot, cluster_, ledger_);
    plan_.pending.reserve(queue.size());
    SuspendOverQuota(snapshot);
    CarryHolds(queue);
    for (const QueuedEntry& e : queue) {
      ReleaseHolds(e);
      Schedule(e);
    }
    // Positions: 1-based among the tasks still waiting at the same tier, in queue order.
    std::array<int, 7> next{};
    for (Pending& p : plan_.pending) p.position_in_tier = ++next[TierIndex(p.tier)];
    return std::move(plan_);
  }

 private:
  // Records why the task waits; its detail line is written from `facts` on demand.
  Pending& Wait(const QueuedEntry& e, PendingReason reason, const PendingFacts& facts,
                int missing = 0) {
    Pending& p = plan_.pending.emplace_back();
    p.attempt_id = e.task->attempt_id;
    p.queued_index = e.index;
    p.reason = reason;
    p.tier = e.tier;
    p.missing_nodes = missing;
    p.facts = facts;
    return p;
  }

  // Step 0: owners over a lowered quota lose their youngest tasks first. Their GPUs count as
  // being freed for the rest of the pass, as they will in the next: no preemption names them
  // again, and nobody else is suspended for capacity they already free.
  void SuspendOverQuota(const Snapshot& snapshot) {
    plan_.suspends = internal::OverQuotaSuspensions(snapshot, config_, cluster_.now());
    const auto& runs = cluster_.runs();  // by attempt id
    for (const SuspendDecision& s : plan_.suspends) {
      auto it = std::lower_bound(
          runs.begin(), runs.end(), s.victim_attempt_id,
          [](const internal::RunInfo& r, int64_t id) { return r.task->attempt_id < id; });
      cluster_.MarkFreeing(static_cast<int>(it - runs.begin()));
    }
  }

  // Step 0: nodes the previous plan held for a preemptor stay held for it, against tasks
  // ahead of it too, until its turn (first holder in queue order wins a contested node).
  void CarryHolds(const std::vector<QueuedEntry>& queue) {
    for (const QueuedEntry& e : queue) {
      const Task& t = *e.task;
      if (t.reserved_nodes.empty() || t.held || e.group < 0) continue;
      for (const std::string& name : t.reserved_nodes) {
        const NodeIdx n = cluster_.NodeId(name);
        if (n < 0) continue;
        const auto& ni = cluster_.nodes()[n];
        if (ni.group != e.group || !ni.usable || ni.reserved) continue;
        cluster_.Hold(n, t.attempt_id);
        holds_[t.attempt_id].push_back(n);
      }
    }
  }

  // At its turn the holder gets its held nodes back as ordinary capacity.
  void ReleaseHolds(const QueuedEntry& e) {
    auto it = holds_.find(e.task->attempt_id);
    if (it == holds_.end()) return;
    for (NodeIdx n : it->second) cluster_.ReleaseHold(n);
    // Capacity grew: failed searches in this group may succeed now.
    packed_fail_[e.group] = std::numeric_limits<int>::max();
    packed_nofit_[e.group] = std::numeric_limits<int>::max();
    absl::erase_if(whole_fail_,
                   [&](const auto& kv) { return static_cast<int>(kv.first >> 8) == e.group; });
    absl::erase_if(backfill_fail_,
                   [&](const auto& kv) { return std::get<0>(kv.first) == e.group; });
  }

  void Schedule(const QueuedEntry& e) {
    const Task& t = *e.task;
    PendingFacts f;
    f.packed = IsPacked(t);
    f.nodes = std::max(t.nodes, 1);
    f.gpus_per_node = std::max(t.gpus_per_node, 0);
    if (t.held) {
      Wait(e, PendingReason::kHeld, f);
      return;
    }
    if (e.group < 0) {
      Wait(e, PendingReason::kNoSuchGroup, f);
      return;
    }
    const GroupInfo& gi = cluster_.groups()[e.group];
    const int nodes = f.nodes;
    const int k = f.gpus_per_node;
    f.fitting = gi.NodesWithGpus(k);
    if (f.fitting < nodes) {
      Wait(e, PendingReason::kNeverFits, f, nodes - f.fitting);
      return;
    }
    const int64_t quota = ledger_.Quota(e.user, e.group, e.tier);
    if (quota < nodes) {
      f.quota = quota;
      Wait(e, PendingReason::kNeverFits, f, static_cast<int>(nodes - quota));
      return;
    }
    const int64_t used = ledger_.Used(e.user, e.group, e.tier);
    if (used + nodes > quota) {
      f.quota = quota;
      f.used = used;
      Wait(e, PendingReason::kOutOfQuota, f, static_cast<int>(used + nodes - quota));
      return;
    }

    if (TryStart(e, f.packed, nodes, k)) return;
    if (TryBackfill(e, f.packed, nodes, k)) return;
    if (TryPreempt(e, f, nodes, k)) return;
    WaitForNodes(e, f, nodes, k);
  }

  // `backfill`: head-of-tier reservations the task ends before are open to it for this
  // call, so the searches of ordinary capacity are not remembered.
  bool TryStart(const QueuedEntry& e, bool packed, int nodes, int k, bool backfill = false) {
    const Task& t = *e.task;
    StartDecision sd;
    sd.attempt_id = t.attempt_id;
    sd.tier = e.tier;
    const absl::Time until =
        t.time_limit > absl::ZeroDuration() && t.time_limit != absl::InfiniteDuration()
            ? cluster_.now() + t.time_limit
            : absl::InfiniteFuture();
    if (packed) {
      // Within a pass free capacity only shrinks (starts, reservations) until a hold is
      // released, so a search that found no node for k GPUs fails for k or more again.
      if (!backfill && k >= packed_nofit_[e.group]) return false;
      std::optional<NodeIdx> n = internal::PickPackedNode(cluster_, e.group, k);
      if (!n) {
        if (!backfill) packed_nofit_[e.group] = k;
        return false;
      }
      const internal::Mask mask = internal::LowestFreeGpus(cluster_.nodes()[*n], k);
      sd.placement.push_back({cluster_.nodes()[*n].node->name, internal::MaskToGpus(mask)});
      cluster_.Occupy(*n, mask, /*new_start=*/true);
      NoteUntil(*n, until);
    } else {
      std::optional<std::vector<NodeIdx>> picked =
          internal::PickWholeNodes(cluster_, e.group, nodes, k);
      if (!picked) return false;
      for (NodeIdx n : *picked) {
        const auto& ni = cluster_.nodes()[n];
        const internal::Mask use = k > 0 ? internal::LowestFreeGpus(ni, k) : ni.all;
        sd.placement.push_back({ni.node->name, internal::MaskToGpus(use)});
        cluster_.Occupy(n, ni.all, /*new_start=*/true);  // whole node: nobody packs beside it
        NoteUntil(n, until);
      }
    }
    ledger_.Add(e.user, e.group, e.tier, nodes);
    plan_.starts.push_back(std::move(sd));
    return true;
  }

  void NoteUntil(NodeIdx n, absl::Time until) {
    internal::NodeInfo& ni = cluster_.nodes()[n];
    ni.started_until = std::max(ni.started_until, until);
  }

  // EASY backfill: a task with a time limit may start on nodes held for a head whose
  // reservation starts no earlier than the task's limit ends (reservation.h).
  bool TryBackfill(const QueuedEntry& e, bool packed, int nodes, int k) {
    const absl::Duration limit = e.task->time_limit;
    if (limit <= absl::ZeroDuration() || limit == absl::InfiniteDuration()) return false;
    const absl::Time end = cluster_.now() + limit;
    // Open capacity only shrinks as `limit` grows and as the pass goes on (until a hold is
    // released): a shape that failed with a shorter or equal limit fails again.
    const auto key = std::make_tuple(e.group, nodes, k);
    if (auto it = backfill_fail_.find(key); it != backfill_fail_.end() && limit >= it->second) {
      return false;
    }
    std::vector<NodeIdx> open;
    for (const Reservation& r : reservations_) {
      if (r.group == e.group && r.start >= end)
        open.insert(open.end(), r.nodes.begin(), r.nodes.end());
    }
    if (open.empty()) return false;
    for (NodeIdx n : open) cluster_.Unreserve(n);
    const bool ok = TryStart(e, packed, nodes, k, /*backfill=*/true);
    for (NodeIdx n : open) cluster_.Reserve(n);
    if (!ok) {
      auto [it, inserted] = backfill_fail_.emplace(key, limit);
      if (!inserted) it->second = std::min(it->second, limit);
    }
    return ok;
  }

  bool TryPreempt(const QueuedEntry& e, PendingFacts f, int nodes, int k) {
    const Task& t = *e.task;
    const bool packed = f.packed;
    // Without preemption a task may still claim capacity that suspended tasks are freeing.
    const int limit = config_.preemption ? static_cast<int>(e.tier) : 0;
    const uint64_t fail_key = (static_cast<uint64_t>(e.group) << 8) | static_cast<uint64_t>(k);
    std::optional<internal::PreemptionResult> res;
    if (packed) {
      if (k >= packed_fail_[e.group]) return false;
      res = internal::FindPackedPreemption(cluster_, e.group, k, limit);
      if (!res) packed_fail_[e.group] = k;
    } else {
      auto it = whole_fail_.find(fail_key);
      if (it != whole_fail_.end() && nodes >= it->second) return false;
      res = internal::FindWholeNodePreemption(cluster_, e.group, nodes, k, limit);
      if (!res) whole_fail_[fail_key] = nodes;
    }
    if (!res) return false;

    for (int r : res->victims) {
      const Task& v = *cluster_.runs()[r].task;
      plan_.suspends.push_back(
          {v.attempt_id, t.attempt_id,
           absl::StrCat("preempted by task ", t.attempt_id, " (", internal::Av(TierName(e.tier)),
                        ") needing ", Plural(nodes, "node"), " in group ", t.group,
                        "; this task runs at ",
                        internal::Av(TierName(static_cast<Tier>(cluster_.runs()[r].tier))))});
      cluster_.MarkFreeing(r);
    }
    for (NodeIdx n : res->nodes) cluster_.Reserve(n);
    // Hold its quota too, so a later task of the same user and tier cannot take it and
    // leave the victims suspended for nothing.
    ledger_.Add(e.user, e.group, e.tier, nodes);
    f.victims = static_cast<int>(res->victims.size());
    Pending& p = Wait(e, PendingReason::kWaitingForPreemption, f, res->not_free_now);
    p.reserved_nodes = NodeNames(cluster_, res->nodes);
    return true;
  }

  void WaitForNodes(const QueuedEntry& e, PendingFacts f, int nodes, int k) {
    const Task& t = *e.task;
    const bool packed = f.packed;
    GroupInfo& gi = cluster_.groups()[e.group];
    // Blocked by a reservation made earlier in this pass when either it would fit now
    // without the reservations, or the unreserved nodes could never hold it however many
    // tasks finish (every node it could use is held for someone ahead of it).
    int free_now = 0;
    bool blocked = false;
    if (packed) {
      int most = 0;
      for (int f = gi.max_usable_gpus; f >= 0 && most == 0; --f) {
        if (!gi.partial[f].empty()) most = f;
      }
      free_now = most;
      blocked = gi.reserved_max_free >= k;
    } else {
      free_now = cluster_.CountFreeWhole(e.group, k);
      blocked = free_now + gi.reserved_free_whole >= nodes;
    }
    const int need = packed ? 1 : nodes;
    const int usable_fitting = gi.UsableWithGpus(k);
    if (!blocked && usable_fitting >= need) {
      blocked = usable_fitting - gi.ReservedWithGpus(k) < need;
    }
    const int missing = packed ? 1 : nodes - free_now;

    internal::HeadReservation held;
    const size_t head_slot = static_cast<size_t>(e.group) * 7 + TierIndex(e.tier);
    if (!head_done_[head_slot]) {
      head_done_[head_slot] = true;
      const int ready = usable_fitting;
      if (ready >= need) {
        held = internal::PlanHeadReservation(cluster_, e.group, t, static_cast<int>(e.tier));
        if (held.nodes.empty()) {
          f.head = PendingFacts::Head::kBehindReservations;
          f.head_nodes = usable_fitting - gi.ReservedWithGpus(k);
        } else {
          f.head = PendingFacts::Head::kHeldForIt;
          f.head_nodes = static_cast<int>(held.nodes.size());
          for (NodeIdx n : held.nodes) cluster_.Reserve(n);
          if (!held.over_limit.empty()) {
            SuspendOverLimit(e, f, held);
            return;
          }
          reservations_.push_back({e.group, held.start, held.nodes});
        }
      } else {
        f.head = PendingFacts::Head::kTooFewReady;
        f.head_nodes = ready;
      }
    }

    f.free_now = free_now;
    f.blocked = blocked;
    Pending& p =
        Wait(e, blocked ? PendingReason::kBlockedByReservation : PendingReason::kWaitingForNodes, f,
             missing);
    if (!held.nodes.empty()) {
      p.reserved_nodes = NodeNames(cluster_, held.nodes);
      p.reserved_start = held.start;
    }
  }

  // The head could start at once but for tasks past their time limit on its nodes: they
  // are suspended for it (SuspendKind::kOverLimit) and it waits for them like a preemptor,
  // holding its nodes and its quota.
  void SuspendOverLimit(const QueuedEntry& e, PendingFacts f,
                        const internal::HeadReservation& held) {
    const Task& t = *e.task;
    for (int r : held.over_limit) {
      const Task& v = *cluster_.runs()[r].task;
      plan_.suspends.push_back(
          {v.attempt_id, t.attempt_id,
           absl::StrCat("ran past its time limit of ", absl::FormatDuration(v.time_limit),
                        " on nodes reserved for task ", t.attempt_id, " (",
                        internal::Av(TierName(e.tier)), ") in group ", t.group),
           SuspendKind::kOverLimit});
      cluster_.MarkFreeing(r);
    }
    ledger_.Add(e.user, e.group, e.tier, f.nodes);
    int not_free = 0;
    for (NodeIdx n : held.nodes) not_free += cluster_.nodes()[n].occupants > 0 ? 1 : 0;
    f.victims = static_cast<int>(held.over_limit.size());
    Pending& p = Wait(e, PendingReason::kWaitingForPreemption, f, not_free);
    p.reserved_nodes = NodeNames(cluster_, held.nodes);
  }

  // A head-of-tier reservation made in this pass, for backfill.
  struct Reservation {
    int group = 0;
    absl::Time start;
    std::vector<NodeIdx> nodes;
  };

  const PolicyConfig& config_;
  Plan plan_;
  Cluster cluster_;
  QuotaLedger ledger_;
  std::vector<bool> head_done_;    // [group * 7 + tier index]
  std::vector<int> packed_nofit_;  // per group: GPUs a packed placement found no node for
  std::vector<int> packed_fail_;   // per group: GPUs a search failed for
  absl::flat_hash_map<uint64_t, int> whole_fail_;             // (group, GPUs/node) -> nodes failed
  absl::flat_hash_map<int64_t, std::vector<NodeIdx>> holds_;  // carried-over holds
  std::vector<Reservation> reservations_;                     // head-of-tier, this pass
  // (group, nodes, GPUs/node) -> the shortest limit a backfill search failed for
  absl::flat_hash_map<std::tuple<int, int, int>, absl::Duration> backfill_fail_;
};

}  // namespace

Plan Decide(const Snapshot& snapshot, const PolicyConfig& config, absl::Time now) {
  Pass pass(snapshot, config, now);
  return pass.Run(snapshot);
}

}  // namespace hai::policy
