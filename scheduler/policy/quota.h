// Quota resolution and submit-time admission. The admin edits raw `quota` rows with SQL
// (owner = a user, a group of users, or `public`; resource `node-<group>-<TIER>`); the daemon
// resolves them here into Snapshot::quota and answers "can this request ever run?" at submit.
// Pure functions: the caller passes the clock reading.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "scheduler/policy/types.h"

namespace hai::policy {

// One row of the `quota` table as stored.
struct QuotaRow {
  std::string owner_kind;               // "user" | "group" | "public"
  std::string owner;                    // user name, user-group name; ignored for public
  std::string resource;                 // "node-<group>-<TIER>"
  int64_t quota = 0;                    // max nodes
  std::optional<absl::Time> expire_at;  // the row stops counting at this instant
  bool active = true;
};

enum class QuotaProblemKind {
  kMalformedResource,  // not `node-<group>-<TIER>` (group names cannot contain '-')
  kUnknownTier,        // TIER is not a tier name (AUTO is not a tier)
  kNegativeQuota,
  kUnknownOwnerGroup,  // owner_kind=group but no user is in that group
  kUnknownOwnerKind,   // owner_kind not user/group/public
};

// An invalid row: skipped, never fatal, reported so an admin can fix it.
struct QuotaProblem {
  QuotaProblemKind kind;
  size_t row_index = 0;  // index into the input rows
  std::string message;   // one line naming the row and what is wrong
};

struct ResolvedQuota {
  std::map<QuotaKey, int64_t> quota;  // ready for Snapshot::quota
  std::vector<QuotaProblem> problems;
};

// Splits `node-<group>-<TIER>`; nullopt when malformed (problem kind in *why when set).
struct QuotaResource {
  std::string group;
  Tier tier;
};
std::optional<QuotaResource> ParseQuotaResource(std::string_view resource,
                                                QuotaProblemKind* why = nullptr);

// Resolves rows per user and (group, tier): the user's own row wins; otherwise the max over
// rows of the user's groups; otherwise the `public` row. Inactive rows and rows with
// expire_at <= now do not count. When several rows of one owner name the same resource the
// max wins. `user_groups`: every known user -> the user groups it belongs to. Users named
// only by user rows are resolved too; public rows apply to every user either way.
// Resources starting with "jupyter:" are jupyter quotas (out of scope here): skipped silently.
ResolvedQuota ResolveQuota(const std::vector<QuotaRow>& rows,
                           const std::map<std::string, std::vector<std::string>>& user_groups,
                           absl::Time now);

// What a user asks for at submit time.
struct AdmissionRequest {
  std::string user;
  std::string group;                               // node group
  int priority = static_cast<int>(Tier::kNormal);  // a tier value or kAutoPriority
  int nodes = 1;
  int gpus_per_node = 0;  // 0 = whole nodes
};

// Most nodes `user` could ever hold at `tier` in `group`: min(quota, training nodes of the
// group that have >= gpus_per_node GPUs). Nodes in any state count (cordoned ones return).
int64_t MaxNodesEver(const std::vector<Node>& nodes, const std::map<QuotaKey, int64_t>& quota,
                     std::string_view user, std::string_view group, Tier tier,
                     int gpus_per_node = 0);

// OK when the request could run on an empty cluster. Otherwise, with a message the user can
// act on:
//  - InvalidArgument: bad shape (nodes < 1, gpus_per_node < 0, unknown priority value) or
//    the group has no training nodes at all;
//  - FailedPrecondition: more nodes than the group has, or more GPUs per node than its
//    largest node;
//  - ResourceExhausted: more nodes than the user's quota for that tier (AUTO: for every tier).
absl::Status CheckAdmissible(const AdmissionRequest& request, const std::vector<Node>& nodes,
                             const std::map<QuotaKey, int64_t>& quota);

// A change of a task's priority (SetPriority). The new priority must be admissible as at
// submit; a task holding nodes moves them to the new tier at once, so its owner's use there
// as of the last pass (`used_nodes`, which counts the task at its current tier) plus the
// task's nodes must stay within the quota of the new tier. Otherwise ResourceExhausted:
// the change is refused rather than letting a running task sit above its quota, e.g. a
// LOW-only user lifting a running task to EXTREME_HIGH where nothing may preempt it.
struct PriorityChange {
  AdmissionRequest task;  // the owner, group, nodes and gpus_per_node; priority = the new one
  bool holding = false;   // its current attempt holds nodes
  int current_tier = 0;   // the tier those nodes are held at (when holding)
};
absl::Status CheckPriorityChange(const PriorityChange& change, const std::vector<Node>& nodes,
                                 const std::map<QuotaKey, int64_t>& quota,
                                 const std::map<QuotaKey, int64_t>& used_nodes);

}  // namespace hai::policy
