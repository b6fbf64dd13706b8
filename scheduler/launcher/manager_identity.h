// Is the process behind a recorded manager pid that manager? Pure: decided from what /proc
// says (common/proc.h), so the rules are unit-tested without processes.
#pragma once

#include "common/proc.h"
#include "scheduler/launcher/manager_processes.h"

namespace hai {

// kNotIt when the process is gone (or a zombie), started at another time than recorded, or
// is not `hai-manager ... --attempt <id>` for this attempt; kCannotTell when /proc could not
// be read; kIsIt otherwise.
ManagerMatch MatchManager(const proc::Process& p, const RecordedManager& m);

}  // namespace hai
