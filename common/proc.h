// What /proc says about one process, for checking that a recorded pid still names the process
// that recorded it before trusting or signalling it. A pid is reused by the kernel once its
// process is reaped; the pair (pid, start time) is not: the start time (field 22 of
// /proc/<pid>/stat, clock ticks after boot) of a process that took over the number is later.
// Linux only; abseil only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hai::proc {

enum class Lookup {
  kFound,    // the process exists and is not a zombie
  kGone,     // no such process (not in /proc, and kill(pid, 0) says ESRCH), or a zombie
  kUnknown,  // /proc could not be read (EACCES, EPERM, no /proc, malformed): cannot tell
};

struct Stat {
  char state = '?';        // field 3 (R, S, D, Z, ...)
  pid_t pgrp = 0;          // field 5
  int64_t start_time = 0;  // field 22: clock ticks after boot
};

struct Process {
  Lookup lookup = Lookup::kUnknown;
  Stat stat;
  std::vector<std::string> argv;  // /proc/<pid>/cmdline split at NULs
};

// Parses the content of /proc/<pid>/stat (the command name in field 2 may hold spaces and
// parentheses: fields are counted after its last ')'). nullopt when malformed.
std::optional<Stat> ParseStat(std::string_view text);

// /proc/<pid>/stat and /proc/<pid>/cmdline under `proc_root` (tests point it elsewhere).
Process Read(pid_t pid, const std::string& proc_root = "/proc");

// This process's start time (field 22 of /proc/self/stat); nullopt when unreadable.
std::optional<int64_t> SelfStartTime();

// This machine's host name ("localhost" when unknown). One function for every user, because
// they must agree: managers record it, haid compares it with its own (ManagerLiveness), and it
// names a replica in the leader election and the managers' socket (ManagerSocketPath).
std::string HostName();

}  // namespace hai::proc
