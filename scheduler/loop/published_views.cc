#include "scheduler/loop/published_views.h"

#include <algorithm>
#include <utility>

#include "scheduler/policy/pending_detail.h"
#include "scheduler/policy/tier.h"

namespace hai {

void PendingTable::Reserve(size_t n) { entries_.reserve(n); }

void PendingTable::Add(policy::Pending pending, const policy::Task& task, std::string_view name) {
  Entry& e = entries_.emplace_back();
  e.chain_id = task.chain_id;
  e.nodes = task.nodes;
  e.tier = static_cast<int>(pending.tier);  // the tier it waits at (AUTO resolved)
  e.text = static_cast<uint32_t>(text_.size());
  e.name_len = static_cast<uint32_t>(name.size());
  e.user_len = static_cast<uint32_t>(task.user.size());
  e.group_len = static_cast<uint32_t>(task.group.size());
  text_.append(name).append(task.user).append(task.group);
  e.pending = std::move(pending);
}

const absl::flat_hash_map<int64_t, uint32_t>& PendingTable::ByChain() const {
  absl::call_once(by_chain_once_, [this] {
    by_chain_.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
      by_chain_[entries_[i].chain_id] = static_cast<uint32_t>(i);
    }
  });
  return by_chain_;
}

PendingView PendingTable::View(const Entry& e) const {
  const std::string_view text(text_);
  const std::string_view name = text.substr(e.text, e.name_len);
  const std::string_view user = text.substr(e.text + e.name_len, e.user_len);
  const std::string_view group = text.substr(e.text + e.name_len + e.user_len, e.group_len);
  return PendingView{e.chain_id,
                     std::string(name),
                     std::string(user),
                     std::string(group),
                     e.nodes,
                     e.tier,
                     e.pending.position_in_tier,
                     std::string(policy::PendingReasonName(e.pending.reason)),
                     policy::PendingDetail(e.pending, user, group)};
}

std::optional<PendingView> PendingTable::Find(int64_t chain_id) const {
  const auto& by_chain = ByChain();
  auto it = by_chain.find(chain_id);
  if (it == by_chain.end()) return std::nullopt;
  return View(entries_[it->second]);
}

std::vector<PendingView> PendingTable::All() const {
  std::vector<PendingView> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(View(e));
  return out;
}

void PublishedViews::Publish(std::shared_ptr<const PendingTable> pending, QuotaView quota,
                             absl::Time at) {
  auto quota_view = std::make_shared<const QuotaView>(std::move(quota));
  {
    absl::MutexLock lock(&mu_);
    std::swap(pending_, pending);
    std::swap(quota_, quota_view);
    last_pass_ = at;
  }
  // The previous views are freed here, outside the lock (a table of 100,000 entries).
}

void PublishedViews::SetNodes(std::shared_ptr<const std::vector<policy::Node>> nodes) {
  absl::MutexLock lock(&mu_);
  nodes_ = std::move(nodes);
}

std::shared_ptr<const PendingTable> PublishedViews::PendingShared() const {
  absl::MutexLock lock(&mu_);
  return pending_;
}

std::optional<PendingView> PublishedViews::PendingFor(int64_t chain_id) const {
  if (std::optional<PendingView> v = PendingShared()->Find(chain_id)) return v;
  if (jupyter_ == nullptr) return std::nullopt;
  // A waiting Jupyter container's reason comes from its own pass (jupyter_pass.h).
  std::optional<JupyterPendingView> j = jupyter_->PendingFor(chain_id);
  if (!j.has_value()) return std::nullopt;
  PendingView v;
  v.chain_id = chain_id;
  v.position = j->position;
  v.reason = j->reason;
  v.detail = j->detail;
  return v;
}

std::vector<PendingView> PublishedViews::Queue() const {
  std::vector<PendingView> out = PendingShared()->All();
  std::sort(out.begin(), out.end(), [](const PendingView& a, const PendingView& b) {
    if (a.tier != b.tier) return a.tier > b.tier;
    if (a.position != b.position) return a.position < b.position;
    return a.chain_id < b.chain_id;
  });
  return out;
}

QuotaView PublishedViews::Quota() const { return *QuotaShared(); }

std::shared_ptr<const QuotaView> PublishedViews::QuotaShared() const {
  absl::MutexLock lock(&mu_);
  return quota_;
}

std::shared_ptr<const std::vector<policy::Node>> PublishedViews::Nodes() const {
  absl::MutexLock lock(&mu_);
  return nodes_;
}

absl::Time PublishedViews::LastPassAt() const {
  absl::MutexLock lock(&mu_);
  return last_pass_;
}

}  // namespace hai
