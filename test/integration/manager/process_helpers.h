// Helpers shared by the hai-manager integration tests: files, polling with a deadline, and
// reaping. The test binaries make themselves subreapers, so rank supervisors of a SIGKILLed
// manager are re-parented to them and must be reaped here, or their zombies would keep their
// process groups "alive".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace hai::testing {

inline constexpr absl::Duration kDeadline = absl::Seconds(30);

std::string ReadFile(const std::string& path);
// Creates the parent directories as needed.
void WriteFile(const std::string& path, const std::string& text);

// Exit statuses of every child reaped so far, by pid.
std::map<pid_t, int>& Reaped();
void ReapAll();
// Polls `cond` every 50 ms (reaping children) until true or `timeout` passes.
bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout = kDeadline);
// Exit code of child `pid` (128 + signal when killed), -1 if it did not end in time.
int WaitExit(pid_t pid, absl::Duration timeout = kDeadline);
// No process is left in the process group.
bool GroupGone(int pgid);
// SIGKILLs the process group of every user command recorded under `dir` (the supervisors'
// `*.exit.pgid` files): the commands run in groups of their own, apart from pods.pid.
void KillTaskGroups(const std::string& dir);
// Forks `hai-manager --config CONFIG --attempt ID` (the binary at `bin`) with stdout and
// stderr in `log_path`; returns its pid.
pid_t SpawnManager(const std::string& bin, int64_t attempt, const std::string& config,
                   const std::string& log_path);

}  // namespace hai::testing
