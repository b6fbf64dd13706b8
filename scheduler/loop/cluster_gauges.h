// The labelled gauges of /metrics that describe the cluster at the end of a pass, rendered in
// the Prometheus text format by the scheduler thread (pure: no I/O, no clock):
//   hai_gpus_allocated{group,tier,user}   GPUs held by training attempts (scheduled to running)
//   hai_queued_tasks{group,tier,reason}   waiting tasks by typed pending reason
//   hai_nodes{group,state}, hai_node_gpus{group,state}
//   hai_jupyter_containers{state}, hai_jupyter_gpus_allocated
// Cardinality is bounded (docs/monitoring.md): `group` is a node group of the hosts table (a
// queued task naming any other group counts as "other"); `user` is one of the `top_users`
// users holding the most GPUs, the rest summed as "other"; tiers, reasons and states are
// enums.
#pragma once

#include <string>
#include <vector>

#include "scheduler/loop/open_attempts.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/rows.h"

namespace hai {

struct ClusterGaugeInput {
  const std::vector<store::HostRow>& hosts;
  const policy::Snapshot& snapshot;             // running: training attempts holding nodes
  const std::vector<policy::Pending>& pending;  // indexes snapshot.queued
  const OpenAttemptMap& open;                   // for the Jupyter containers
  int top_users = 20;
};

std::string RenderClusterGauges(const ClusterGaugeInput& in);

}  // namespace hai
