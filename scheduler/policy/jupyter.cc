// Jupyter container quota, admission, bin-packing and idle culling; see jupyter.h.
#include "scheduler/policy/jupyter.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hai::policy {
namespace {

constexpr int64_t kMiBPerGiB = 1024;

// Limits of one owner in one group, each known or not, so layers only override what they set.
struct Partial {
  std::map<JupyterLimit, int64_t> explicit_rows;  // jupyter:<group>:<limit>
  std::map<JupyterLimit, int64_t> packed;         // from jupyter:<group>
  std::map<JupyterLimit, int64_t> Effective() const {
    std::map<JupyterLimit, int64_t> out = packed;
    for (const auto& [k, v] : explicit_rows) out[k] = v;
    return out;
  }
};
using OwnerLimits = std::map<std::string, Partial>;  // by jupyter group

void MaxInto(std::map<JupyterLimit, int64_t>& m, JupyterLimit k, int64_t v) {
  auto [it, inserted] = m.emplace(k, v);
  if (!inserted) it->second = std::max(it->second, v);
}

std::optional<JupyterLimit> ParseLimit(const std::string& name) {
  for (JupyterLimit l : {JupyterLimit::kContainers, JupyterLimit::kCpu, JupyterLimit::kMemory,
                         JupyterLimit::kGpus, JupyterLimit::kKeepAlive}) {
    if (name == JupyterLimitName(l)) return l;
  }
  return std::nullopt;
}

int64_t Get(const std::map<JupyterLimit, int64_t>& m, JupyterLimit k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

std::string Cores(int64_t millis) {
  if (millis % 1000 == 0) return absl::StrCat(millis / 1000);
  return absl::StrCat(static_cast<double>(millis) / 1000);
}

std::string GiB(int64_t mib) {
  if (mib % kMiBPerGiB == 0) return absl::StrCat(mib / kMiBPerGiB, " GiB");
  return absl::StrCat(static_cast<double>(mib) / kMiBPerGiB, " GiB");
}

}  // namespace

const char* JupyterLimitName(JupyterLimit limit) {
  switch (limit) {
    case JupyterLimit::kContainers: return "containers";
    case JupyterLimit::kCpu: return "cpu";
    case JupyterLimit::kMemory: return "memory_gib";
    case JupyterLimit::kGpus: return "gpus";
    case JupyterLimit::kKeepAlive: return "keep_alive";
  }
  return "?";
}

absl::StatusOr<JupyterQuota> DecodePackedJupyterQuota(int64_t value) {
  if (value < 100000 || value > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(
        "packed jupyter quota must have 6 to 9 digits (memory GiB, 3 digits of CPU cores, 2 "
        "of containers), e.g. 100012810; got ",
        value));
  }
  JupyterQuota q;
  q.containers = value % 100;
  q.cpu_millis = (value / 100) % 1000 * 1000;
  q.memory_mib = value / 100000 * kMiBPerGiB;
  return q;
}

namespace {

// The valid "jupyter:" rows by owner; every other jupyter row becomes a problem.
struct ParsedRows {
  std::map<std::string, OwnerLimits> by_user, by_group;
  OwnerLimits by_public;
  std::vector<QuotaProblem> problems;
};

ParsedRows ParseJupyterRows(const std::vector<QuotaRow>& rows,
                            const std::map<std::string, std::vector<std::string>>& user_groups,
                            absl::Time now) {
  ParsedRows out;
  std::set<std::string> known_groups;
  for (const auto& [user, groups] : user_groups) known_groups.insert(groups.begin(), groups.end());
  auto& by_user = out.by_user;
  auto& by_group = out.by_group;
  auto& by_public = out.by_public;
  for (size_t i = 0; i < rows.size(); ++i) {
    const QuotaRow& row = rows[i];
    if (!row.active || (row.expire_at && *row.expire_at <= now)) continue;
    if (row.resource.rfind("jupyter:", 0) != 0) continue;  // training quota: ResolveQuota
    auto problem = [&](QuotaProblemKind kind, const std::string& what) {
      out.problems.push_back(
          {kind, i,
           absl::StrCat("quota row ", i, " (", row.owner_kind, " '", row.owner, "', '",
                        row.resource, "' = ", row.quota, ") skipped: ", what)});
    };
    std::vector<std::string> parts = absl::StrSplit(row.resource, ':');
    if (parts.size() < 2 || parts.size() > 3 || parts[1].empty()) {
      problem(QuotaProblemKind::kMalformedResource,
              "expected jupyter:<group>:<containers|cpu|memory_gib|gpus|keep_alive> or the "
              "packed jupyter:<group>");
      continue;
    }
    if (row.quota < 0) {
      problem(QuotaProblemKind::kNegativeQuota, "negative quota");
      continue;
    }
    OwnerLimits* owner = nullptr;
    if (row.owner_kind == "user") {
      owner = &by_user[row.owner];
    } else if (row.owner_kind == "group") {
      if (known_groups.count(row.owner) == 0) {
        problem(QuotaProblemKind::kUnknownOwnerGroup, "no user belongs to this group");
        continue;
      }
      owner = &by_group[row.owner];
    } else if (row.owner_kind == "public") {
      owner = &by_public;
    } else {
      problem(QuotaProblemKind::kUnknownOwnerKind,
              "owner_kind must be 'user', 'group' or 'public'");
      continue;
    }
    Partial& p = (*owner)[parts[1]];
    if (parts.size() == 3) {
      std::optional<JupyterLimit> limit = ParseLimit(parts[2]);
      if (!limit) {
        problem(QuotaProblemKind::kMalformedResource,
                "unknown limit; expected containers, cpu, memory_gib, gpus or keep_alive");
        continue;
      }
      int64_t v = row.quota;
      if (*limit == JupyterLimit::kCpu) v *= 1000;           // cores -> millicores
      if (*limit == JupyterLimit::kMemory) v *= kMiBPerGiB;  // GiB -> MiB
      MaxInto(p.explicit_rows, *limit, v);
      continue;
    }
    absl::StatusOr<JupyterQuota> packed = DecodePackedJupyterQuota(row.quota);
    if (!packed.ok()) {
      problem(QuotaProblemKind::kMalformedResource, std::string(packed.status().message()));
      continue;
    }
    MaxInto(p.packed, JupyterLimit::kContainers, packed->containers);
    MaxInto(p.packed, JupyterLimit::kCpu, packed->cpu_millis);
    MaxInto(p.packed, JupyterLimit::kMemory, packed->memory_mib);
  }
  return out;
}

}  // namespace

std::vector<QuotaProblem> JupyterQuotaProblems(
    const std::vector<QuotaRow>& rows,
    const std::map<std::string, std::vector<std::string>>& user_groups, absl::Time now) {
  return ParseJupyterRows(rows, user_groups, now).problems;
}

ResolvedJupyterQuota ResolveJupyterQuota(
    const std::vector<QuotaRow>& rows,
    const std::map<std::string, std::vector<std::string>>& user_groups, absl::Time now) {
  ResolvedJupyterQuota out;
  ParsedRows parsed = ParseJupyterRows(rows, user_groups, now);
  out.problems = std::move(parsed.problems);
  const auto& by_user = parsed.by_user;
  const auto& by_group = parsed.by_group;
  const auto& by_public = parsed.by_public;

  std::set<std::string> users;
  for (const auto& [user, groups] : user_groups) users.insert(user);
  for (const auto& [user, limits] : by_user) users.insert(user);
  for (const std::string& user : users) {
    // group -> limit -> value, layered public < user groups (max) < the user's own rows.
    std::map<std::string, std::map<JupyterLimit, int64_t>> eff;
    for (const auto& [g, p] : by_public) eff[g] = p.Effective();
    std::map<std::string, std::map<JupyterLimit, int64_t>> from_groups;
    auto ug = user_groups.find(user);
    if (ug != user_groups.end()) {
      for (const std::string& member_of : ug->second) {
        auto it = by_group.find(member_of);
        if (it == by_group.end()) continue;
        for (const auto& [g, p] : it->second) {
          for (const auto& [k, v] : p.Effective()) MaxInto(from_groups[g], k, v);
        }
      }
    }
    for (const auto& [g, m] : from_groups) {
      for (const auto& [k, v] : m) eff[g][k] = v;
    }
    if (auto own = by_user.find(user); own != by_user.end()) {
      for (const auto& [g, p] : own->second) {
        for (const auto& [k, v] : p.Effective()) eff[g][k] = v;
      }
    }
    for (const auto& [g, m] : eff) {
      JupyterQuota q;
      q.containers = Get(m, JupyterLimit::kContainers);
      q.cpu_millis = Get(m, JupyterLimit::kCpu);
      q.memory_mib = Get(m, JupyterLimit::kMemory);
      q.gpus = Get(m, JupyterLimit::kGpus);
      q.keep_alive = Get(m, JupyterLimit::kKeepAlive);
      out.quota[{user, g}] = q;
    }
  }
  return out;
}

JupyterQuota JupyterQuotaFor(const ResolvedJupyterQuota& resolved, const std::string& user,
                             const std::string& group) {
  auto it = resolved.quota.find({user, group});
  return it == resolved.quota.end() ? JupyterQuota{} : it->second;
}

absl::Status CheckJupyterCreate(const JupyterCreateRequest& r,
                                const std::vector<JupyterContainer>& open, const JupyterQuota& q,
                                const std::vector<Node>& nodes) {
  if (r.cpu_millis <= 0) return absl::InvalidArgumentError("--cpu must be positive");
  if (r.memory_mib <= 0) return absl::InvalidArgumentError("--memory must be positive");
  if (r.gpus < 0) return absl::InvalidArgumentError("--gpus must not be negative");
  // Upper bounds far above any machine keep every sum over a user's containers in range
  // (a request of 2^63-1 MiB would wrap the total negative and pass the quota).
  if (r.cpu_millis > kMaxJupyterCpuMillis) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cpu must be at most ", kMaxJupyterCpuMillis / 1000, " cores"));
  }
  if (r.memory_mib > kMaxJupyterMemoryMiB) {
    return absl::InvalidArgumentError(
        absl::StrCat("--memory must be at most ", kMaxJupyterMemoryMiB / 1024, " GiB"));
  }
  if (r.gpus > kMaxJupyterGpus) {
    return absl::InvalidArgumentError(absl::StrCat("--gpus must be at most ", kMaxJupyterGpus));
  }
  bool any = false, training_group = false, fits_one = false;
  for (const Node& n : nodes) {
    if (n.group != r.group) continue;
    if (!n.jupyter) {
      training_group = true;
      continue;
    }
    any = true;
    const bool cpu_ok = n.cpu_millis == 0 || n.cpu_millis >= r.cpu_millis;
    const bool mem_ok = n.memory_mib == 0 || n.memory_mib >= r.memory_mib;
    if (cpu_ok && mem_ok && n.gpus >= r.gpus) fits_one = true;
  }
  if (!any) {
    return absl::FailedPreconditionError(
        training_group
            ? absl::StrCat("group ", r.group,
                           " is a training group; Jupyter containers run on jupyter groups only")
            : absl::StrCat("no jupyter node group named ", r.group));
  }
  if (!fits_one) {
    return absl::FailedPreconditionError(
        absl::StrCat("no node of jupyter group ", r.group, " can ever hold ", Cores(r.cpu_millis),
                     " CPU, ", GiB(r.memory_mib), " and ", r.gpus, " GPUs"));
  }

  int64_t count = 0, memory = 0, gpus = 0, keep_alive = 0;
  for (const JupyterContainer& c : open) {
    if (c.user != r.user || c.group != r.group) continue;
    ++count;
    memory += c.memory_mib;
    gpus += c.gpus;
    if (c.keep_alive) ++keep_alive;
  }
  auto exhausted = [&](JupyterLimit limit, const std::string& what) {
    return absl::ResourceExhaustedError(absl::StrCat("jupyter quota jupyter:", r.group, ":",
                                                     JupyterLimitName(limit), " exceeded: ", what));
  };
  if (count + 1 > q.containers) {
    return exhausted(
        JupyterLimit::kContainers,
        absl::StrCat("limit ", q.containers, " containers, you have ", count, " open"));
  }
  if (r.cpu_millis > q.cpu_millis) {
    return exhausted(JupyterLimit::kCpu,
                     absl::StrCat("limit ", Cores(q.cpu_millis), " cores per container, asked for ",
                                  Cores(r.cpu_millis)));
  }
  if (memory + r.memory_mib > q.memory_mib) {
    return exhausted(JupyterLimit::kMemory,
                     absl::StrCat("limit ", GiB(q.memory_mib), " in total, ", GiB(memory),
                                  " in use, asked for ", GiB(r.memory_mib)));
  }
  if (gpus + r.gpus > q.gpus) {
    return exhausted(JupyterLimit::kGpus, absl::StrCat("limit ", q.gpus, " GPUs in total, ", gpus,
                                                       " in use, asked for ", r.gpus));
  }
  if (r.keep_alive && keep_alive + 1 > q.keep_alive) {
    return exhausted(
        JupyterLimit::kKeepAlive,
        absl::StrCat("limit ", q.keep_alive, " keep-alive containers, you have ", keep_alive));
  }
  return absl::OkStatus();
}

namespace {

// What is in use on one node.
struct NodeUse {
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  std::map<int, int> per_gpu;  // GPU index -> containers using it
};

// GPU indices for `want` GPUs on `n`, or nullopt. Dedicated: unused indices, lowest first.
// Shared: indices below the per-GPU cap, least used first (then lowest index).
std::optional<std::vector<int>> PickGpus(const Node& n, const NodeUse& use, int want, bool shared,
                                         int cap) {
  std::vector<std::pair<int, int>> candidates;  // (users, index)
  for (int i = 0; i < n.gpus; ++i) {
    auto it = use.per_gpu.find(i);
    const int users = it == use.per_gpu.end() ? 0 : it->second;
    if (shared ? users < cap : users == 0) candidates.push_back({users, i});
  }
  if (static_cast<int>(candidates.size()) < want) return std::nullopt;
  std::sort(candidates.begin(), candidates.end());
  std::vector<int> out;
  for (int i = 0; i < want; ++i) out.push_back(candidates[i].second);
  std::sort(out.begin(), out.end());
  return out;
}

int64_t Left(int64_t capacity, int64_t used) {
  // 0 capacity = not tracked: never the constraint, and never preferred by best fit.
  return capacity == 0 ? std::numeric_limits<int64_t>::max() : capacity - used;
}

}  // namespace

JupyterPlan PlaceJupyter(const std::vector<Node>& nodes,
                         const std::vector<JupyterContainer>& placed,
                         const std::vector<JupyterContainer>& queued,
                         const JupyterPlacementConfig& config) {
  JupyterPlan plan;
  std::map<std::string, NodeUse> use;
  for (const JupyterContainer& c : placed) {
    NodeUse& u = use[c.node];
    u.cpu_millis += c.cpu_millis;
    u.memory_mib += c.memory_mib;
    for (int g : c.gpu_indices) ++u.per_gpu[g];
  }
  std::vector<const JupyterContainer*> order;
  for (const JupyterContainer& c : queued) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return std::tie(a->first_submit, a->chain_id) < std::tie(b->first_submit, b->chain_id);
  });

  int position = 0;
  for (const JupyterContainer* c : order) {
    const bool shared = config.gpu_sharing_groups.count(c->group) > 0;
    const Node* best = nullptr;
    std::vector<int> best_gpus;
    std::tuple<int64_t, int64_t, std::string> best_key;
    bool group_exists = false, could_ever_fit = false;
    for (const Node& n : nodes) {
      if (!n.jupyter || n.group != c->group) continue;
      group_exists = true;
      const bool size_ok = (n.cpu_millis == 0 || n.cpu_millis >= c->cpu_millis) &&
                           (n.memory_mib == 0 || n.memory_mib >= c->memory_mib) &&
                           n.gpus >= c->gpus;
      could_ever_fit = could_ever_fit || size_ok;
      if (n.state != NodeState::kReady || !size_ok) continue;
      const NodeUse& u = use[n.name];
      const int64_t cpu_left = Left(n.cpu_millis, u.cpu_millis) - c->cpu_millis;
      const int64_t mem_left = Left(n.memory_mib, u.memory_mib) - c->memory_mib;
      if (cpu_left < 0 || mem_left < 0) continue;
      std::optional<std::vector<int>> gpus =
          PickGpus(n, u, c->gpus, shared, config.max_containers_per_gpu);
      if (!gpus) continue;
      std::tuple<int64_t, int64_t, std::string> key{mem_left, cpu_left, n.name};
      if (best == nullptr || key < best_key) {
        best = &n;
        best_key = key;
        best_gpus = *std::move(gpus);
      }
    }
    if (best != nullptr) {
      NodeUse& u = use[best->name];
      u.cpu_millis += c->cpu_millis;
      u.memory_mib += c->memory_mib;
      for (int g : best_gpus) ++u.per_gpu[g];
      plan.starts.push_back({c->attempt_id, Tier::kLow, {{best->name, best_gpus}}});
      continue;
    }
    Pending p;
    p.attempt_id = c->attempt_id;
    p.position_in_tier = ++position;
    p.tier = Tier::kLow;
    p.missing_nodes = 1;
    if (!group_exists) {
      p.reason = PendingReason::kNoSuchGroup;
      p.detail = absl::StrCat("no jupyter node belongs to group ", c->group);
    } else if (!could_ever_fit) {
      p.reason = PendingReason::kNeverFits;
      p.detail =
          absl::StrCat("no node of jupyter group ", c->group, " is large enough for ",
                       Cores(c->cpu_millis), " CPU, ", GiB(c->memory_mib), ", ", c->gpus, " GPUs");
    } else {
      p.reason = PendingReason::kWaitingForNodes;
      p.detail = absl::StrCat("no ready node of jupyter group ", c->group, " has ",
                              Cores(c->cpu_millis), " CPU, ", GiB(c->memory_mib), " and ", c->gpus,
                              shared ? " shareable" : " free", " GPUs left");
    }
    plan.pending.push_back(std::move(p));
  }
  return plan;
}

std::vector<CullDecision> IdleCulls(const std::vector<JupyterActivity>& running, absl::Time now) {
  std::vector<CullDecision> out;
  for (const JupyterActivity& a : running) {
    if (a.keep_alive || a.idle_timeout <= absl::ZeroDuration()) continue;
    absl::Time last = a.started_at;
    if (a.server_activity) last = std::max(last, *a.server_activity);
    if (a.api_activity) last = std::max(last, *a.api_activity);
    const absl::Duration idle = now - last;
    if (idle < a.idle_timeout) continue;
    out.push_back({a.chain_id, a.attempt_id, idle,
                   absl::StrCat("culled: idle for ",
                                absl::FormatDuration(absl::Trunc(idle, absl::Seconds(1))),
                                " (no kernel activity or API request; limit ",
                                absl::FormatDuration(a.idle_timeout), ")")});
  }
  return out;
}

}  // namespace hai::policy
