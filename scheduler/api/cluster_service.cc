// ClusterService: nodes with their state and what runs on them.
#include <map>
#include <set>

#include "common/model/proto_enums.h"
#include "common/model/states.h"
#include "scheduler/api/auth.h"
#include "scheduler/api/grpc_status.h"
#include "scheduler/api/services.h"

namespace hai::api {

grpc::Status ClusterServiceImpl::ListNodes(grpc::ServerContext* context,
                                           const hai::v1::ListNodesRequest* req,
                                           hai::v1::ListNodesResponse* resp) {
  auto user = Authenticate(*context, *d_.store);
  if (!user.ok()) return ToGrpc(user.status());
  auto hosts = d_.store->LoadHosts();
  if (!hosts.ok()) return ToGrpc(hosts.status());
  auto open = d_.store->LoadOpenAttempts();
  if (!open.ok()) return ToGrpc(open.status());
  std::map<std::string, std::set<int>> used_gpus;
  std::map<std::string, std::set<int64_t>> chains;
  for (const store::OpenAttempt& o : *open) {
    for (const store::PodRow& p : o.attempt.pods) {
      used_gpus[p.node].insert(p.gpus.begin(), p.gpus.end());
      chains[p.node].insert(o.chain.chain_id);
    }
  }
  for (const store::HostRow& h : *hosts) {
    if (!req->group().empty() && h.node.group != req->group()) continue;
    hai::v1::Node* n = resp->add_nodes();
    n->set_name(h.node.name);
    n->set_group(h.node.group);
    n->set_gpus(h.node.gpus);
    n->set_cpu_millis(h.node.cpu_millis);
    n->set_memory_mib(h.node.memory_mib);
    n->set_room(h.node.room);
    n->set_switch_(h.node.sw);
    n->set_state(model::ToProto(h.node.state));
    n->set_state_reason(h.state_reason);
    n->set_jupyter(h.node.jupyter);
    for (int g : used_gpus[h.node.name]) n->add_used_gpus(g);
    for (int64_t c : chains[h.node.name]) n->add_chain_ids(c);
  }
  return grpc::Status::OK;
}

}  // namespace hai::api
