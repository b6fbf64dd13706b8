// The Jupyter part of a pass as the loop sees it (JupyterPass implements it): run after the
// training plan is applied, and answer why a container waits.
#pragma once

#include <vector>

#include "absl/time/time.h"
#include "scheduler/loop/published_views.h"
#include "scheduler/store/rows.h"

namespace hai {

class JupyterStep : public JupyterPendingSource {
 public:
  // One pass over the containers; `hosts` is the pass's view of the hosts table.
  virtual void Run(const std::vector<store::HostRow>& hosts, absl::Time now) = 0;
};

}  // namespace hai
