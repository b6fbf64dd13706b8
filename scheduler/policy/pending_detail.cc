#include "scheduler/policy/pending_detail.h"

#include "absl/strings/str_cat.h"
#include "scheduler/policy/sv.h"
#include "scheduler/policy/tier.h"

namespace hai::policy {
namespace {

using internal::Av;

std::string Plural(int64_t n, std::string_view what) {
  return absl::StrCat(n, " ", Av(what), n == 1 ? "" : "s");
}

std::string HeadNote(const Pending& p, absl::string_view tier) {
  const PendingFacts& f = p.facts;
  switch (f.head) {
    case PendingFacts::Head::kHeldForIt:
      return absl::StrCat(
          "; first in line at ", tier, ", ", Plural(f.head_nodes, "node"), " held for it",
          p.reserved_start == absl::InfiniteFuture()
              ? std::string()
              : absl::StrCat(", free by ",
                             absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", p.reserved_start,
                                              absl::UTCTimeZone()),
                             " by the time limits of the tasks on them"));
    case PendingFacts::Head::kTooFewReady:
      return absl::StrCat("; only ", f.head_nodes, " nodes of the group are ready");
    case PendingFacts::Head::kBehindReservations:
      return absl::StrCat("; first in line at ", tier, ", but only ", f.head_nodes,
                          " ready nodes are not held for tasks ahead of it");
    case PendingFacts::Head::kNone: break;
  }
  return "";
}

std::string WaitingForNodes(const Pending& p, absl::string_view group, absl::string_view tier) {
  const PendingFacts& f = p.facts;
  if (f.packed) {
    return absl::StrCat("needs ", f.gpus_per_node, " GPUs on one node in group ", group,
                        "; the freest unreserved node has ", f.free_now, " free",
                        f.blocked ? "; a node with room is held for an earlier task" : "",
                        HeadNote(p, tier));
  }
  return absl::StrCat("needs ", Plural(f.nodes, "node"), " in group ", group, ", ", f.free_now,
                      " free; ", p.missing_nodes, " more must free up",
                      f.blocked ? " (free nodes are held for an earlier task)" : "",
                      HeadNote(p, tier));
}

}  // namespace

std::string PendingDetail(const Pending& p, std::string_view user_sv, std::string_view group_sv) {
  if (!p.detail.empty()) return p.detail;
  const PendingFacts& f = p.facts;
  const absl::string_view user = Av(user_sv);
  const absl::string_view group = Av(group_sv);
  const absl::string_view tier = Av(TierName(p.tier));
  switch (p.reason) {
    case PendingReason::kHeld: return "held by its owner; resume it to queue it again";
    case PendingReason::kNoSuchGroup:
      return absl::StrCat("node group '", group, "' has no nodes; resubmit with another group");
    case PendingReason::kNeverFits:
      if (f.quota >= 0) {
        return absl::StrCat("needs ", Plural(f.nodes, "node"), " but the ", tier, " quota of user ",
                            user, " in group ", group, " is ", f.quota,
                            "; use fewer nodes, another priority, or ask for quota");
      }
      return absl::StrCat(
          "needs ", Plural(f.nodes, "node"),
          f.gpus_per_node > 0 ? absl::StrCat(" with ", f.gpus_per_node, " GPUs") : std::string(),
          " but group ", group, " has only ", f.fitting, "; resubmit with fewer nodes or GPUs");
    case PendingReason::kOutOfQuota:
      return absl::StrCat("user ", user, " holds ", f.used, " of ", f.quota, " ", tier,
                          " nodes in group ", group, "; waits until ",
                          Plural(p.missing_nodes, "node"), " of that quota free up");
    case PendingReason::kWaitingForPreemption:
      if (f.victims == 0) {
        return absl::StrCat("waiting for ", Plural(p.missing_nodes, "node"), " in group ", group,
                            " that suspended tasks are freeing; held for it");
      }
      return absl::StrCat("suspending ", Plural(f.victims, "lower-priority task"), " to free ",
                          Plural(p.missing_nodes, "node"), " in group ", group,
                          "; starts when they stop");
    case PendingReason::kWaitingForNodes:
    case PendingReason::kBlockedByReservation: return WaitingForNodes(p, group, tier);
  }
  return "";
}

}  // namespace hai::policy
