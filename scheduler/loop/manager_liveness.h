// Whether an attempt's manager (one not started by this haid) is alive, hung or gone, from
// its recorded pid, host and heartbeat. A pid means something only on the host that wrote it:
// after a haid restart on another host, or in a new pod (the Kubernetes install runs the
// managers inside haid's pod, so every pod has its own pid namespace), the same number may
// name an unrelated process, which must be neither trusted as the manager nor killed. There
// only the heartbeat counts.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string_view>

#include "absl/time/time.h"
#include "scheduler/store/rows.h"

namespace hai {

enum class ManagerVerdict {
  kAlive,  // heartbeating (and, on this host, its process exists)
  kHung,   // its process on this host exists but has been silent past the timeout: kill it
  kGone,   // no manager: start one to adopt the attempt's pods
};

// `this_host` is haid's host name as managers record it (gethostname); an empty recorded
// host (rows from before managers recorded one) counts as this host. `process_alive` is
// injected (kill(pid, 0) in haid) so the judgement is testable.
ManagerVerdict JudgeManager(const store::AttemptRow& a, absl::Time now, absl::Duration timeout,
                            std::string_view this_host,
                            const std::function<bool(pid_t)>& process_alive);

}  // namespace hai
