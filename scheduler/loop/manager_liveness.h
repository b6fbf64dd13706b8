// Whether an attempt's manager (one not started by this haid) is alive, hung or gone, from
// what Postgres records of it (pid, start time, host) and how long Postgres has heard nothing
// from it. A pid means something only on the host that wrote it, and only while /proc shows
// the same process behind it (same start time, `hai-manager --attempt <id>`): after a haid
// restart on another host, in a new pod (the Kubernetes install runs the managers inside
// haid's pod, so every pod has its own pid namespace), or once the kernel reused the number,
// it may name an unrelated process, which must be neither trusted as the manager nor killed.
// There only the heartbeat counts. A process that cannot be identified (EPERM, unreadable
// /proc) counts as alive: replacing a manager that still runs would let two drive the
// attempt.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/time/time.h"
#include "scheduler/launcher/manager_processes.h"
#include "scheduler/store/rows.h"

namespace hai {

enum class ManagerVerdict {
  kAlive,  // heartbeating (and, on this host, its process is that manager or cannot be told)
  kHung,   // its process on this host is that manager but silent past the timeout: kill it
  kGone,   // no manager: start one to adopt the attempt's pods
};

struct LivenessRules {
  absl::Duration timeout;  // silence (by Postgres' clock) after which a manager is lost
  // False while haid's own view of Postgres has not been unbroken for a whole timeout (haid
  // just started, or Postgres was unreachable): a manager that could not write then is not
  // silent, so silence decides nothing.
  bool silence_counts = true;
  std::string_view this_host;  // haid's host name as managers record it (gethostname)
};

// `l` is a fresh read of the attempt's manager (SupervisionRecords::LoadManagerLiveness); an
// empty recorded host (rows from before managers recorded one) counts as this host.
// `identify` is injected (/proc in haid, manager_identity.h) so the judgement is testable.
ManagerVerdict JudgeManager(const store::ManagerLiveness& l, int64_t attempt_id,
                            const LivenessRules& rules,
                            const std::function<ManagerMatch(const RecordedManager&)>& identify);

// The recorded manager `l` describes.
RecordedManager RecordedOf(const store::ManagerLiveness& l, int64_t attempt_id);

}  // namespace hai
