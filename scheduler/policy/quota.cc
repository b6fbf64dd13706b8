// Quota resolution (user > group > public) and submit-time admission checks.
#include "scheduler/policy/quota.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "scheduler/policy/sv.h"
#include "scheduler/policy/tier.h"

namespace hai::policy {
namespace {

using GroupTier = std::pair<std::string, Tier>;

void MaxInto(std::map<GroupTier, int64_t>& m, const GroupTier& k, int64_t v) {
  auto [it, inserted] = m.emplace(k, v);
  if (!inserted) it->second = std::max(it->second, v);
}

}  // namespace

std::optional<QuotaResource> ParseQuotaResource(std::string_view resource, QuotaProblemKind* why) {
  std::vector<absl::string_view> parts = absl::StrSplit(internal::Av(resource), '-');
  if (parts.size() != 3 || parts[0] != "node" || parts[1].empty()) {
    if (why != nullptr) *why = QuotaProblemKind::kMalformedResource;
    return std::nullopt;
  }
  std::optional<Tier> tier = ParseTier(internal::Sv(parts[2]));
  if (!tier) {
    if (why != nullptr) *why = QuotaProblemKind::kUnknownTier;
    return std::nullopt;
  }
  return QuotaResource{std::string(parts[1]), *tier};
}

ResolvedQuota ResolveQuota(const std::vector<QuotaRow>& rows,
                           const std::map<std::string, std::vector<std::string>>& user_groups,
                           absl::Time now) {
  ResolvedQuota out;
  std::set<std::string, std::less<>> known_groups;
  for (const auto& [user, groups] : user_groups) {
    known_groups.insert(groups.begin(), groups.end());
  }

  std::map<std::string, std::map<GroupTier, int64_t>> by_user;   // user rows
  std::map<std::string, std::map<GroupTier, int64_t>> by_group;  // user-group rows
  std::map<GroupTier, int64_t> by_public;

  for (size_t i = 0; i < rows.size(); ++i) {
    const QuotaRow& row = rows[i];
    auto problem = [&](QuotaProblemKind kind, std::string_view what) {
      out.problems.push_back(
          {kind, i,
           absl::StrCat("quota row ", i, " (", row.owner_kind, " '", row.owner, "', '",
                        row.resource, "' = ", row.quota, ") skipped: ", internal::Av(what))});
    };
    if (!row.active) continue;
    if (row.expire_at && *row.expire_at <= now) continue;
    if (row.resource.rfind("jupyter:", 0) == 0) continue;  // jupyter quota: not ours
    QuotaProblemKind why{};
    std::optional<QuotaResource> res = ParseQuotaResource(row.resource, &why);
    if (!res) {
      problem(why, why == QuotaProblemKind::kUnknownTier
                       ? "unknown tier; expected node-<group>-<TIER> with TIER one of "
                         "LOW..EXTREME_HIGH"
                       : "malformed resource; expected node-<group>-<TIER> (group names "
                         "cannot contain '-')");
      continue;
    }
    if (row.quota < 0) {
      problem(QuotaProblemKind::kNegativeQuota, "negative quota");
      continue;
    }
    GroupTier key{res->group, res->tier};
    if (row.owner_kind == "user") {
      MaxInto(by_user[row.owner], key, row.quota);
    } else if (row.owner_kind == "group") {
      if (!known_groups.contains(row.owner)) {
        problem(QuotaProblemKind::kUnknownOwnerGroup, "no user belongs to this group");
        continue;
      }
      MaxInto(by_group[row.owner], key, row.quota);
    } else if (row.owner_kind == "public") {
      MaxInto(by_public, key, row.quota);
    } else {
      problem(QuotaProblemKind::kUnknownOwnerKind,
              "owner_kind must be 'user', 'group' or 'public'");
    }
  }

  std::set<std::string> users;
  for (const auto& [user, groups] : user_groups) users.insert(user);
  for (const auto& [user, m] : by_user) users.insert(user);
  static const std::vector<std::string> kNoGroups;
  for (const std::string& user : users) {
    auto ug = user_groups.find(user);
    const std::vector<std::string>& groups = ug == user_groups.end() ? kNoGroups : ug->second;
    // Layered: public, then the max over the user's groups, then the user's own rows.
    std::map<GroupTier, int64_t> eff = by_public;
    std::map<GroupTier, int64_t> from_groups;
    for (const std::string& g : groups) {
      auto it = by_group.find(g);
      if (it == by_group.end()) continue;
      for (const auto& [k, v] : it->second) MaxInto(from_groups, k, v);
    }
    for (const auto& [k, v] : from_groups) eff[k] = v;
    if (auto it = by_user.find(user); it != by_user.end()) {
      for (const auto& [k, v] : it->second) eff[k] = v;
    }
    for (const auto& [k, v] : eff) out.quota[QuotaKey{user, k.first, k.second}] = v;
  }
  return out;
}

int64_t MaxNodesEver(const std::vector<Node>& nodes, const std::map<QuotaKey, int64_t>& quota,
                     std::string_view user, std::string_view group, Tier tier, int gpus_per_node) {
  int64_t fitting = 0;
  for (const Node& n : nodes) {
    if (!n.jupyter && n.group == group && n.gpus >= gpus_per_node) ++fitting;
  }
  auto it = quota.find(QuotaKey{std::string(user), std::string(group), tier});
  const int64_t q = it == quota.end() ? 0 : it->second;
  return std::min(q, fitting);
}

absl::Status CheckAdmissible(const AdmissionRequest& request, const std::vector<Node>& nodes,
                             const std::map<QuotaKey, int64_t>& quota) {
  if (request.nodes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a task needs at least 1 node; got ", request.nodes));
  }
  if (request.gpus_per_node < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("GPUs per node cannot be negative; got ", request.gpus_per_node));
  }
  std::vector<Tier> tiers;
  if (request.priority == kAutoPriority) {
    tiers.assign(kTiersDescending.begin(), kTiersDescending.end());
  } else if (std::optional<Tier> t = TierFromValue(request.priority)) {
    tiers.push_back(*t);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown priority value ", request.priority,
                     "; use EXTREME_HIGH, VERY_HIGH, HIGH, ABOVE_NORMAL, NORMAL, "
                     "BELOW_NORMAL, LOW or AUTO"));
  }
  int group_nodes = 0;
  int max_gpus = 0;
  int fitting = 0;
  for (const Node& n : nodes) {
    if (n.jupyter || n.group != request.group) continue;
    ++group_nodes;
    max_gpus = std::max(max_gpus, n.gpus);
    if (n.gpus >= request.gpus_per_node) ++fitting;
  }
  if (group_nodes == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node group '", request.group, "' has no training nodes; pick another group (-g)"));
  }
  if (request.gpus_per_node > max_gpus) {
    return absl::FailedPreconditionError(absl::StrCat(
        "asks for ", request.gpus_per_node, " GPUs per node but the largest node in group '",
        request.group, "' has ", max_gpus, "; ask for at most ", max_gpus));
  }
  if (request.nodes > fitting) {
    return absl::FailedPreconditionError(absl::StrCat(
        "asks for ", request.nodes, " nodes but group '", request.group, "' has only ", fitting,
        request.gpus_per_node > 0 ? absl::StrCat(" nodes with ", request.gpus_per_node, "+ GPUs")
                                  : std::string(" nodes"),
        "; ask for at most ", fitting));
  }
  int64_t best = 0;
  for (Tier t : tiers) {
    auto it = quota.find(QuotaKey{request.user, request.group, t});
    const int64_t q = it == quota.end() ? 0 : it->second;
    if (q >= request.nodes) return absl::OkStatus();
    best = std::max(best, q);
  }
  if (request.priority == kAutoPriority) {
    return absl::ResourceExhaustedError(
        absl::StrCat("asks for ", request.nodes, " nodes but user '", request.user,
                     "' has at most ", best, " nodes of quota at any tier in group '",
                     request.group, "'; ask for fewer nodes or ask an admin for quota"));
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "asks for ", request.nodes, " nodes but user '", request.user, "' has a quota of ", best,
      " nodes at ", internal::Av(TierName(tiers.front())), " in group '", request.group,
      "'; ask for fewer nodes, another priority (or AUTO), or more quota"));
}

absl::Status CheckPriorityChange(const PriorityChange& change, const std::vector<Node>& nodes,
                                 const std::map<QuotaKey, int64_t>& quota,
                                 const std::map<QuotaKey, int64_t>& used_nodes) {
  const AdmissionRequest& t = change.task;
  if (absl::Status admissible = CheckAdmissible(t, nodes, quota); !admissible.ok()) {
    return admissible;
  }
  // AUTO picks a tier when an attempt starts; a running attempt keeps its tier.
  if (!change.holding || t.priority == kAutoPriority || t.priority == change.current_tier) {
    return absl::OkStatus();
  }
  const Tier tier = *TierFromValue(t.priority);  // CheckAdmissible accepted the value
  const QuotaKey key{t.user, t.group, tier};
  auto q = quota.find(key);
  auto u = used_nodes.find(key);
  const int64_t limit = q == quota.end() ? 0 : q->second;
  const int64_t used = u == used_nodes.end() ? 0 : u->second;
  const int64_t held = std::max(t.nodes, 1);
  if (used + held <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the task holds ", held, " node(s) and user '", t.user, "' already holds ", used,
      " of a quota of ", limit, " at ", internal::Av(TierName(tier)), " in group '", t.group,
      "'; a running task cannot move above its quota: suspend it first (it resumes at the "
      "new priority when quota allows), or ask for more quota"));
}

}  // namespace hai::policy
