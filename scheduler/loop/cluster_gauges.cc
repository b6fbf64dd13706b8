#include "scheduler/loop/cluster_gauges.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/model/states.h"
#include "scheduler/policy/tier.h"

namespace hai {
namespace {

// Label values are escaped as the exposition format asks (backslash, quote, newline).
std::string Esc(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void Head(std::string* out, const char* name, const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n");
}

}  // namespace

std::string RenderClusterGauges(const ClusterGaugeInput& in) {
  std::string out;
  std::set<std::string> groups;
  for (const store::HostRow& h : in.hosts) groups.insert(h.node.group);
  auto group_label = [&](const std::string& g) {
    return groups.contains(g) ? g : std::string("other");
  };

  // GPUs by group, tier and user; users past the top N are "other".
  std::map<std::string, int64_t> per_user;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> gpus;
  for (const policy::Task& t : in.snapshot.running) {
    int64_t n = 0;
    for (const policy::RankPlacement& p : t.placement) n += static_cast<int64_t>(p.gpus.size());
    per_user[t.user] += n;
  }
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (const auto& [user, n] : per_user) ranked.push_back({-n, user});
  std::sort(ranked.begin(), ranked.end());
  std::set<std::string> top;
  for (size_t i = 0; i < ranked.size() && i < static_cast<size_t>(in.top_users); ++i) {
    top.insert(ranked[i].second);
  }
  for (const policy::Task& t : in.snapshot.running) {
    int64_t n = 0;
    for (const policy::RankPlacement& p : t.placement) n += static_cast<int64_t>(p.gpus.size());
    gpus[{group_label(t.group), std::string(policy::TierName(t.tier)),
          top.contains(t.user) ? t.user : "other"}] += n;
  }
  Head(&out, "hai_gpus_allocated",
       "GPUs held by training attempts (scheduled, starting, running) at the last pass.");
  for (const auto& [k, n] : gpus) {
    const auto& [g, tier, user] = k;
    absl::StrAppend(&out, "hai_gpus_allocated{group=\"", Esc(g), "\",tier=\"", tier, "\",user=\"",
                    Esc(user), "\"} ", n, "\n");
  }

  std::map<std::tuple<std::string, std::string, std::string>, int64_t> queued;
  for (const policy::Pending& p : in.pending) {
    if (p.queued_index >= in.snapshot.queued.size()) continue;
    queued[{group_label(in.snapshot.queued[p.queued_index].group),
            std::string(policy::TierName(p.tier)),
            std::string(policy::PendingReasonName(p.reason))}] += 1;
  }
  Head(&out, "hai_queued_tasks", "Waiting training tasks at the last pass, by pending reason.");
  for (const auto& [k, n] : queued) {
    const auto& [g, tier, reason] = k;
    absl::StrAppend(&out, "hai_queued_tasks{group=\"", Esc(g), "\",tier=\"", tier, "\",reason=\"",
                    reason, "\"} ", n, "\n");
  }

  // Every state of every group, zeros included, so alerts can compare without absent().
  std::map<std::pair<std::string, model::NodeState>, std::pair<int64_t, int64_t>> nodes;
  for (const std::string& g : groups) {
    for (model::NodeState s : model::kNodeStates) nodes[{g, s}] = {0, 0};
  }
  for (const store::HostRow& h : in.hosts) {
    auto& [count, node_gpus] = nodes[{h.node.group, h.node.state}];
    ++count;
    node_gpus += h.node.gpus;
  }
  Head(&out, "hai_nodes", "Nodes by group and state.");
  for (const auto& [k, v] : nodes) {
    absl::StrAppend(&out, "hai_nodes{group=\"", Esc(k.first), "\",state=\"",
                    std::string(model::Name(k.second)), "\"} ", v.first, "\n");
  }
  Head(&out, "hai_node_gpus", "GPUs of the nodes by group and state.");
  for (const auto& [k, v] : nodes) {
    absl::StrAppend(&out, "hai_node_gpus{group=\"", Esc(k.first), "\",state=\"",
                    std::string(model::Name(k.second)), "\"} ", v.second, "\n");
  }

  int64_t jupyter_queued = 0, jupyter_starting = 0, jupyter_running = 0, jupyter_gpus = 0;
  for (const auto& [id, o] : in.open) {
    if (o.chain.kind != model::TaskKind::kJupyter) continue;
    switch (o.attempt.state) {
      case model::AttemptState::kQueued: ++jupyter_queued; break;
      case model::AttemptState::kRunning: ++jupyter_running; break;
      default: ++jupyter_starting; break;
    }
    if (model::HoldsNodes(o.attempt.state)) {
      for (const store::PodRow& p : o.attempt.pods) {
        jupyter_gpus += static_cast<int64_t>(p.gpus.size());
      }
    }
  }
  Head(&out, "hai_jupyter_containers", "Open Jupyter containers by state.");
  absl::StrAppend(&out, "hai_jupyter_containers{state=\"queued\"} ", jupyter_queued, "\n",
                  "hai_jupyter_containers{state=\"starting\"} ", jupyter_starting, "\n",
                  "hai_jupyter_containers{state=\"running\"} ", jupyter_running, "\n");
  Head(&out, "hai_jupyter_gpus_allocated", "GPUs held by Jupyter containers.");
  absl::StrAppend(&out, "hai_jupyter_gpus_allocated ", jupyter_gpus, "\n");
  return out;
}

}  // namespace hai
