// Ends the ranks of an attempt whose manager is gone for good (manager_supervisor.h fails the
// attempt after repeated losses), before its GPUs are handed to anyone else: no manager is
// left to do it, and an orphan rank would keep using GPUs the next task is given.
// RankReaper is the seam (the loop's unit tests use a fake); LocalRankReaper ends the process
// groups of the local runtime's ranks, after checking from /proc that each still belongs to
// the attempt (a recorded process group id may have been reused); runtimes haid cannot end
// ranks of (Kubernetes: haid does not talk to the API) use UnconfirmedRankReaper, which
// reports every node of the attempt as unconfirmed so it is cordoned instead of reused.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/proc.h"

namespace hai {

// A rank as Postgres records it (pods row).
struct RankRecord {
  int rank = 0;
  std::string node;
  std::optional<int64_t> runtime_id;  // pods.pid: the local runtime's process group id
};

struct AttemptRanks {
  int64_t attempt_id = 0;
  std::string manager_host;  // where its managers (and, local runtime, its ranks) ran
  std::vector<RankRecord> ranks;
};

// Nodes on which some rank could not be confirmed gone, and why ("" when all are gone).
struct RanksEnded {
  std::set<std::string> unconfirmed_nodes;
  std::string reason;
};

class RankReaper {
 public:
  virtual ~RankReaper() = default;
  // Kills every rank of the attempt, waits, and checks they are gone. Blocks up to its wait.
  virtual RanksEnded EndRanks(const AttemptRanks& a) = 0;
};

// ---- the local runtime

// One process as /proc shows it.
struct ProcEntry {
  pid_t pid = 0;
  proc::Process process;
};

// Which process groups belong to the attempt's ranks (pure, for tests): the groups led by a
// rank supervisor of the attempt (`hai-manager --rank-supervisor ... --exit-file
// <run_root>/<attempt>/rank-<r>.exit`, found whether or not its pid was recorded), and the
// recorded groups whose leader has exited but whose members remain (a pid cannot be reused
// while it still names a process group). A recorded group whose leader is another process
// (the id was reused) is not the rank's. `unknown` holds ranks whose leader /proc could not
// read. `run_root` is the absolute <data_dir>/run; relative exit paths are resolved against
// `cwd` (the managers' working directory, haid's).
struct RankGroups {
  std::map<pid_t, int> groups;  // process group id -> rank
  std::set<int> unknown;
};
RankGroups FindRankGroups(const std::vector<ProcEntry>& procs, const AttemptRanks& a,
                          const std::string& run_root, const std::string& cwd);

class LocalRankReaper final : public RankReaper {
 public:
  // `run_root`: absolute <data_dir>/run. `this_host`: haid's host name as managers record it.
  LocalRankReaper(std::string run_root, std::string this_host,
                  absl::Duration wait = absl::Seconds(5), std::string proc_root = "/proc");
  RanksEnded EndRanks(const AttemptRanks& a) override;

 private:
  std::vector<ProcEntry> Scan() const;

  std::string run_root_;
  std::string this_host_;
  absl::Duration wait_;
  std::string proc_root_;
};

class UnconfirmedRankReaper final : public RankReaper {
 public:
  explicit UnconfirmedRankReaper(std::string runtime) : runtime_(std::move(runtime)) {}
  RanksEnded EndRanks(const AttemptRanks& a) override;

 private:
  std::string runtime_;
};

}  // namespace hai
