// FindRankGroups: which process groups haid ends for an attempt failed for lost managers.
// The rank supervisors of the attempt (found by their command line, recorded pid or not),
// and recorded groups whose leader exited but whose members remain; never a group whose id
// was reused by another process.
#include "scheduler/launcher/rank_reaper.h"

#include <gtest/gtest.h>

namespace hai {
namespace {

const std::string kRunRoot = "/data/run";

ProcEntry Proc(pid_t pid, pid_t pgrp, std::vector<std::string> argv,
               proc::Lookup lookup = proc::Lookup::kFound) {
  ProcEntry e;
  e.pid = pid;
  e.process.lookup = lookup;
  e.process.stat.pgrp = pgrp;
  e.process.argv = std::move(argv);
  return e;
}

std::vector<std::string> Supervisor(const std::string& exit_path) {
  return {"/opt/hai/bin/hai-manager",
          "--rank-supervisor",
          "--log-file",
          "/l",
          "--exit-file",
          exit_path,
          "--",
          "python",
          "train.py"};
}

AttemptRanks Attempt(std::vector<RankRecord> ranks) {
  return {.attempt_id = 5, .manager_host = "here", .ranks = std::move(ranks)};
}

TEST(RankReaperTest, SupervisorsOfTheAttemptAreFoundByTheirExitFile) {
  const std::vector<ProcEntry> procs = {
      Proc(100, 100, Supervisor("/data/run/5/rank-0.exit")),
      Proc(101, 100, {"python", "train.py"}),                  // the user command, in the group
      Proc(200, 200, Supervisor("/data/run/6/rank-0.exit")),   // another attempt
      Proc(300, 300, Supervisor("/other/run/5/rank-0.exit")),  // another install
      Proc(400, 400, {"python", "--exit-file", "/data/run/5/rank-1.exit"}),  // not a supervisor
  };
  // Rank 0's pid was never recorded (its manager died first): found anyway.
  RankGroups g = FindRankGroups(procs, Attempt({{0, "n0", std::nullopt}}), kRunRoot, "/");
  EXPECT_EQ(g.groups, (std::map<pid_t, int>{{100, 0}}));
  EXPECT_TRUE(g.unknown.empty());
}

TEST(RankReaperTest, RelativeExitPathsResolveAgainstTheWorkingDirectory) {
  const std::vector<ProcEntry> procs = {Proc(100, 100, Supervisor("run/5/rank-3.exit"))};
  EXPECT_EQ(FindRankGroups(procs, Attempt({}), kRunRoot, "/data").groups,
            (std::map<pid_t, int>{{100, 3}}));
  EXPECT_TRUE(FindRankGroups(procs, Attempt({}), kRunRoot, "/elsewhere").groups.empty());
}

TEST(RankReaperTest, ARecordedGroupWhoseLeaderExitedIsStillTheRanks) {
  // Supervisor 100 is gone (or a zombie); a process of its group remains.
  const std::vector<ProcEntry> procs = {
      Proc(100, 100, {}, proc::Lookup::kGone),
      Proc(101, 100, {"python", "train.py"}),
  };
  EXPECT_EQ(FindRankGroups(procs, Attempt({{0, "n0", 100}}), kRunRoot, "/").groups,
            (std::map<pid_t, int>{{100, 0}}));
  EXPECT_EQ(FindRankGroups({procs[1]}, Attempt({{0, "n0", 100}}), kRunRoot, "/").groups,
            (std::map<pid_t, int>{{100, 0}}));
}

TEST(RankReaperTest, ARecordedIdNowUsedByAnotherProcessIsLeftAlone) {
  const std::vector<ProcEntry> procs = {Proc(100, 100, {"sleep", "600"}),
                                        Proc(101, 100, {"sleep", "1"})};
  RankGroups g = FindRankGroups(procs, Attempt({{0, "n0", 100}}), kRunRoot, "/");
  EXPECT_TRUE(g.groups.empty());
  EXPECT_TRUE(g.unknown.empty());
}

TEST(RankReaperTest, AnUnreadableLeaderCannotBeConfirmed) {
  const std::vector<ProcEntry> procs = {Proc(100, 0, {}, proc::Lookup::kUnknown)};
  RankGroups g = FindRankGroups(procs, Attempt({{2, "n1", 100}}), kRunRoot, "/");
  EXPECT_TRUE(g.groups.empty());
  EXPECT_EQ(g.unknown, (std::set<int>{2}));
}

TEST(RankReaperTest, NothingLeftMeansNothingToEnd) {
  const std::vector<ProcEntry> procs = {Proc(100, 100, {}, proc::Lookup::kGone)};
  EXPECT_TRUE(FindRankGroups(procs, Attempt({{0, "n0", 100}}), kRunRoot, "/").groups.empty());
}

TEST(RankReaperTest, RanksOfAnotherHostCannotBeConfirmedAndTheirNodesAreNamed) {
  LocalRankReaper reaper(kRunRoot, "here", absl::ZeroDuration(), "/nonexistent-proc");
  AttemptRanks a = Attempt({{0, "n0", 100}, {1, "n1", 101}});
  a.manager_host = "elsewhere";
  RanksEnded out = reaper.EndRanks(a);
  EXPECT_EQ(out.unconfirmed_nodes, (std::set<std::string>{"n0", "n1"}));
  EXPECT_NE(out.reason.find("elsewhere"), std::string::npos);
  UnconfirmedRankReaper kube("kubernetes");
  EXPECT_EQ(kube.EndRanks(a).unconfirmed_nodes, (std::set<std::string>{"n0", "n1"}));
}

}  // namespace
}  // namespace hai
