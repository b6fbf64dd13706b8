// Queue ordering, AUTO tier resolution and the per-pass quota ledger (see order.h).
#include "scheduler/policy/order.h"

#include <algorithm>

#include "scheduler/policy/tier.h"

namespace hai::policy::internal {

uint64_t QuotaLedger::Key(int user, int group, Tier tier) {
  return (static_cast<uint64_t>(user) << 32) | (static_cast<uint64_t>(group) << 3) |
         static_cast<uint64_t>(TierIndex(tier));
}

QuotaLedger::QuotaLedger(const Snapshot& snapshot, const Cluster& cluster) {
  for (const auto* tasks : {&snapshot.running, &snapshot.queued}) {
    for (const Task& t : *tasks) users_.emplace(t.user, static_cast<int>(users_.size()));
  }
  // Only users with tasks and groups with nodes matter to this pass.
  for (const auto& [key, value] : snapshot.quota) {
    const int u = UserId(key.user);
    if (u < 0) continue;
    const int g = cluster.GroupId(key.group);
    if (g < 0) continue;
    quota_[Key(u, g, key.tier)] = value;
  }
  for (const RunInfo& r : cluster.runs()) {
    const int g = cluster.GroupId(r.task->group);
    if (g < 0) continue;
    Add(UserId(r.task->user), g, static_cast<Tier>(r.tier), std::max(r.task->nodes, 1));
  }
}

int QuotaLedger::UserId(std::string_view user) const {
  auto it = users_.find(Av(user));
  return it == users_.end() ? -1 : it->second;
}

int64_t QuotaLedger::Quota(int user, int group, Tier tier) const {
  auto it = quota_.find(Key(user, group, tier));
  return it == quota_.end() ? 0 : it->second;
}

int64_t QuotaLedger::Used(int user, int group, Tier tier) const {
  auto it = used_.find(Key(user, group, tier));
  return it == used_.end() ? 0 : it->second;
}

void QuotaLedger::Add(int user, int group, Tier tier, int64_t nodes) {
  used_[Key(user, group, tier)] += nodes;
}

Tier TierForValue(int value) {
  for (Tier t : kTiersDescending) {
    if (static_cast<int>(t) <= value) return t;
  }
  return Tier::kLow;
}

std::vector<QueuedEntry> OrderQueue(const Snapshot& snapshot, const Cluster& cluster,
                                    const QuotaLedger& ledger) {
  std::vector<QueuedEntry> out;
  out.reserve(snapshot.queued.size());
  std::vector<size_t> autos;
  for (const Task& t : snapshot.queued) {
    QueuedEntry e;
    e.task = &t;
    e.first_submit = t.first_submit;
    e.attempt_id = t.attempt_id;
    e.index = out.size();
    e.user = ledger.UserId(t.user);
    e.group = cluster.GroupId(t.group);
    if (t.requested_priority == kAutoPriority) {
      autos.push_back(out.size());
    } else {
      e.tier = TierForValue(t.requested_priority);
    }
    out.push_back(e);
  }

  std::sort(autos.begin(), autos.end(), [&](size_t a, size_t b) {
    const Task& x = *out[a].task;
    const Task& y = *out[b].task;
    if (x.first_submit != y.first_submit) return x.first_submit < y.first_submit;
    return x.attempt_id < y.attempt_id;
  });
  absl::flat_hash_map<uint64_t, int64_t> taken;  // tentative use by older AUTO tasks
  for (size_t i : autos) {
    QueuedEntry& e = out[i];
    const int64_t need = std::max(e.task->nodes, 1);
    e.tier = Tier::kLow;
    if (e.group < 0) continue;
    std::optional<Tier> now_fits, ever_fits, any_quota;
    for (Tier t : kTiersDescending) {
      const int64_t q = ledger.Quota(e.user, e.group, t);
      const uint64_t key = QuotaLedger::Key(e.user, e.group, t);
      const int64_t used = ledger.Used(e.user, e.group, t) + taken[key];
      if (!now_fits && used + need <= q) {
        now_fits = t;
        taken[key] += need;
      }
      if (!ever_fits && q >= need) ever_fits = t;
      if (!any_quota && q > 0) any_quota = t;
    }
    e.tier = now_fits ? *now_fits : ever_fits ? *ever_fits : any_quota ? *any_quota : Tier::kLow;
  }

  std::sort(out.begin(), out.end(), [](const QueuedEntry& a, const QueuedEntry& b) {
    if (a.tier != b.tier) return a.tier > b.tier;
    if (a.first_submit != b.first_submit) return a.first_submit < b.first_submit;
    return a.attempt_id < b.attempt_id;
  });
  return out;
}

}  // namespace hai::policy::internal
