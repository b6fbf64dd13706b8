// Slurm node sync; see node_sync.h.
#include "scheduler/slurm/node_sync.h"

#include <pthread.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hai::slurm {

SyncPlan PlanNodeSync(const std::vector<HostView>& hosts, const std::vector<NodeRow>& nodes,
                      const std::string& import_group) {
  SyncPlan plan;
  std::map<std::string, const HostView*> by_name;
  for (const HostView& h : hosts) by_name[h.name] = &h;
  for (const NodeRow& n : nodes) {
    auto it = by_name.find(n.name);
    if (it == by_name.end()) {
      if (!import_group.empty()) {
        policy::Node node;
        node.name = n.name;
        node.group = import_group;
        node.gpus = n.gpus;
        plan.imports.push_back(std::move(node));
      }
      continue;
    }
    const HostView& h = *it->second;
    const bool ours = absl::StartsWith(h.reason, kSyncReasonPrefix);
    // Only a ready host, or one this sync took out of service, follows Slurm: an admin's
    // decision in hai stands.
    if (h.state != model::NodeState::kReady && !ours) continue;
    if (n.health == NodeHealth::kUp) {
      if (ours && h.state != model::NodeState::kReady) {
        plan.changes.push_back({n.name, model::NodeState::kReady, ""});
      }
      continue;
    }
    const model::NodeState want =
        n.health == NodeHealth::kDrain ? model::NodeState::kCordoned : model::NodeState::kUnhealthy;
    std::string reason = absl::StrCat(kSyncReasonPrefix, n.state,
                                      n.reason.empty() ? "" : absl::StrCat(": ", n.reason));
    if (h.state != want || h.reason != reason) {
      plan.changes.push_back({n.name, want, std::move(reason)});
    }
  }
  return plan;
}

absl::StatusOr<int> NodeSync::SyncOnce() {
  auto nodes = cli_.Nodes({});
  if (!nodes.ok()) return nodes.status();
  auto hosts = store_.Hosts();
  if (!hosts.ok()) return hosts.status();
  const SyncPlan plan = PlanNodeSync(*hosts, *nodes, import_group_);
  int changed = 0;
  for (const policy::Node& n : plan.imports) {
    if (absl::Status s = store_.Import(n); !s.ok()) {
      HAI_LOG(WARNING) << "slurm sync: import " << n.name << ": " << s;
      continue;
    }
    HAI_LOG(INFO) << "slurm sync: imported node " << n.name << " (" << n.gpus << " GPUs) into "
                  << n.group;
    ++changed;
  }
  for (const NodeChange& c : plan.changes) {
    if (absl::Status s = store_.SetState(c); !s.ok()) {
      HAI_LOG(WARNING) << "slurm sync: " << c.node << ": " << s;
      continue;
    }
    HAI_LOG(INFO) << "slurm sync: node " << c.node << " -> " << model::Name(c.state)
                  << (c.reason.empty() ? "" : " (" + c.reason + ")");
    ++changed;
  }
  if (changed > 0 && on_change_) on_change_();
  return changed;
}

void NodeSync::Start(absl::Duration interval) {
  thread_ = std::thread([this, interval] {
    pthread_setname_np(pthread_self(), "hai-slurm-sync");
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      if (auto r = SyncOnce(); !r.ok()) {
        HAI_LOG(WARNING) << "slurm sync: " << r.status();
      }
      lock.lock();
      cv_.wait_for(lock, absl::ToChronoMilliseconds(interval), [this] { return stop_; });
    }
  });
}

void NodeSync::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hai::slurm
