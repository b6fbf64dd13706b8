#include "scheduler/http/node_snapshot.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/model/proto_enums.h"
#include "common/model/tier.h"
#include "hai/v1/cluster.pb.h"

namespace hai {
namespace {

// The node as ClusterService.ListNodes shows it, in the API's JSON (proto field names,
// defaults printed, int64 as strings), as every other dashboard answer.
nlohmann::json NodeJson(const store::HostRow& h) {
  hai::v1::Node n;
  n.set_name(h.node.name);
  n.set_group(h.node.group);
  n.set_gpus(h.node.gpus);
  n.set_cpu_millis(h.node.cpu_millis);
  n.set_memory_mib(h.node.memory_mib);
  n.set_room(h.node.room);
  n.set_switch_(h.node.sw);
  n.set_state(model::ToProto(h.node.state));
  n.set_state_reason(h.state_reason);
  n.set_jupyter(h.node.jupyter);
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string text;
  (void)google::protobuf::util::MessageToJsonString(n, &text, o);
  return nlohmann::json::parse(text, nullptr, false);
}

}  // namespace

absl::Status NodeSnapshot::Refresh() {
  absl::MutexLock refreshing(&refresh_mu_);
  absl::StatusOr<std::vector<store::HostRow>> hosts = store_.LoadHosts();
  if (!hosts.ok()) return hosts.status();
  // Which task holds which GPU: ListNodes names the chains on each node to every user; this
  // adds the GPUs, task name, user and tier of each (the queue shows those to every user).
  std::map<std::string, nlohmann::json> holders;
  absl::Status read = store_.pool().Read("dashboard_holders", [&](pqxx::read_transaction& tx) {
    for (const auto& row :
         tx.exec("SELECT p.node, array_to_string(p.gpus, ','), a.chain_id, a.attempt_id, a.tier, "
                 "a.state, c.name, c.user_name, p.rank FROM pods p JOIN attempts a USING "
                 "(attempt_id) JOIN chains c USING (chain_id) WHERE a.state IN ('scheduled', "
                 "'starting', 'running') ORDER BY p.node, p.rank")) {
      nlohmann::json h;
      h["gpus"] = nlohmann::json::array();
      for (absl::string_view g : absl::StrSplit(row[1].as<std::string>(), ',', absl::SkipEmpty())) {
        int gpu = 0;
        if (absl::SimpleAtoi(g, &gpu)) h["gpus"].push_back(gpu);
      }
      h["chain_id"] = std::to_string(row[2].as<int64_t>());
      h["attempt_id"] = std::to_string(row[3].as<int64_t>());
      const int tier = row[4].as<int>();
      h["tier"] = tier;
      h["tier_name"] = std::string(model::TierName(static_cast<model::Tier>(tier)));
      h["attempt_state"] = row[5].as<std::string>();
      h["task"] = row[6].as<std::string>();
      h["user"] = row[7].as<std::string>();
      h["rank"] = row[8].as<int>();
      nlohmann::json& list = holders[row[0].as<std::string>()];
      if (list.is_null()) list = nlohmann::json::array();
      list.push_back(std::move(h));
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  std::vector<std::pair<std::string, std::string>> fresh;  // name, JSON
  fresh.reserve(hosts->size());
  std::string layout;
  for (const store::HostRow& h : *hosts) {
    nlohmann::json j = NodeJson(h);
    auto it = holders.find(h.node.name);
    std::set<int> used;
    std::set<std::string> chains;
    if (it != holders.end()) {
      for (const nlohmann::json& holder : it->second) {
        for (int g : holder["gpus"]) used.insert(g);
        chains.insert(holder["chain_id"].get<std::string>());
      }
    }
    j["used_gpus"] = used;
    j["chain_ids"] = chains;
    j["holders"] = it == holders.end() ? nlohmann::json::array() : std::move(it->second);
    absl::StrAppend(&layout, h.node.name, "\t", h.node.group, "\t", h.node.jupyter ? 1 : 0, "\n");
    fresh.emplace_back(h.node.name,
                       j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  absl::MutexLock lock(&mu_);
  stale_ = false;
  // One version per read that changed anything: a page at version V has every change of
  // the reads up to V.
  const int64_t next = version_ + 1;
  bool changed = false;
  if (layout != layout_) {
    layout_ = std::move(layout);
    layout_version_ = next;
    changed = true;
    nodes_.clear();
  }
  order_.clear();
  for (auto& [name, json] : fresh) {
    order_.push_back(name);
    auto [it, added] = nodes_.try_emplace(name, std::move(json), next);
    if (!added && it->second.first != json) {
      it->second = {std::move(json), next};
      changed = true;
    }
  }
  if (changed) version_ = next;
  return absl::OkStatus();
}

void NodeSnapshot::MarkStale() {
  absl::MutexLock lock(&mu_);
  stale_ = true;
}

int64_t NodeSnapshot::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

absl::StatusOr<NodeSnapshot::Answer> NodeSnapshot::Since(int64_t since) {
  bool stale;
  {
    absl::MutexLock lock(&mu_);
    stale = stale_;
  }
  if (since < 0 || stale) {
    if (absl::Status s = Refresh(); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  Answer a;
  a.version = version_;
  a.full = since < layout_version_ || since > version_;
  for (const std::string& name : order_) {
    const auto& [json, changed_at] = nodes_.at(name);
    if (a.full || changed_at > since) a.nodes.push_back(json);
  }
  return a;
}

}  // namespace hai
