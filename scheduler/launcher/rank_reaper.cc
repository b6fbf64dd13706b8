#include "scheduler/launcher/rank_reaper.h"

#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace hai {
namespace {

namespace fs = std::filesystem;

// The rank of `a` whose exit file is `path`, or -1.
int RankOfExitFile(const std::string& path, const AttemptRanks& a, const std::string& run_root,
                   const std::string& cwd) {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(cwd) / p;
  p = p.lexically_normal();
  const fs::path dir = (fs::path(run_root) / std::to_string(a.attempt_id)).lexically_normal();
  if (p.parent_path() != dir) return -1;
  // filename() is a temporary: keep the string alive while `name` views it (ASan found the
  // view dangling).
  const std::string file = p.filename().native();
  std::string_view name = file;
  constexpr std::string_view kPrefix = "rank-", kSuffix = ".exit";
  if (name.size() <= kPrefix.size() + kSuffix.size() || name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return -1;
  }
  int rank = -1;
  name = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  return absl::SimpleAtoi(std::string(name), &rank) && rank >= 0 ? rank : -1;
}

// The rank a rank supervisor of `a` runs, or -1 when `argv` is not one.
int SupervisedRank(const std::vector<std::string>& argv, const AttemptRanks& a,
                   const std::string& run_root, const std::string& cwd) {
  if (argv.size() < 2 || argv[1] != "--rank-supervisor") return -1;
  for (size_t i = 2; i + 1 < argv.size() && argv[i] != "--"; ++i) {
    if (argv[i] == "--exit-file") return RankOfExitFile(argv[i + 1], a, run_root, cwd);
  }
  return -1;
}

}  // namespace

RankGroups FindRankGroups(const std::vector<ProcEntry>& procs, const AttemptRanks& a,
                          const std::string& run_root, const std::string& cwd) {
  RankGroups out;
  std::map<pid_t, const ProcEntry*> by_pid;
  std::map<pid_t, int> members;  // pgid -> live processes in it
  for (const ProcEntry& e : procs) {
    by_pid[e.pid] = &e;
    if (e.process.lookup != proc::Lookup::kFound) continue;
    ++members[e.process.stat.pgrp];
    const int rank = SupervisedRank(e.process.argv, a, run_root, cwd);
    if (rank >= 0) out.groups[e.process.stat.pgrp] = rank;
  }
  for (const RankRecord& r : a.ranks) {
    if (!r.runtime_id.has_value() || *r.runtime_id <= 0) continue;
    const pid_t g = static_cast<pid_t>(*r.runtime_id);
    if (out.groups.count(g) > 0) continue;  // led by its supervisor: found above
    auto leader = by_pid.find(g);
    if (leader != by_pid.end()) {
      if (leader->second->process.lookup == proc::Lookup::kUnknown) out.unknown.insert(r.rank);
      // kFound: some other process has the id now (not the rank's supervisor), so the group
      // is not the rank's. kGone: a zombie leader; its group may still have members.
      if (leader->second->process.lookup != proc::Lookup::kGone) continue;
    }
    if (members.count(g) > 0) out.groups[g] = r.rank;
  }
  return out;
}

LocalRankReaper::LocalRankReaper(std::string run_root, std::string this_host, absl::Duration wait,
                                 std::string proc_root)
    : run_root_(std::move(run_root)),
      this_host_(std::move(this_host)),
      wait_(wait),
      proc_root_(std::move(proc_root)) {}

std::vector<ProcEntry> LocalRankReaper::Scan() const {
  std::vector<ProcEntry> out;
  DIR* d = ::opendir(proc_root_.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0) continue;
    out.push_back({pid, proc::Read(pid, proc_root_)});
  }
  ::closedir(d);
  return out;
}

RanksEnded LocalRankReaper::EndRanks(const AttemptRanks& a) {
  RanksEnded out;
  std::map<int, std::string> node_of;
  for (const RankRecord& r : a.ranks) node_of[r.rank] = r.node;
  auto unconfirmed = [&](int rank) {
    auto it = node_of.find(rank);
    if (it != node_of.end()) out.unconfirmed_nodes.insert(it->second);
  };
  if (!a.manager_host.empty() && a.manager_host != this_host_) {
    for (const RankRecord& r : a.ranks) out.unconfirmed_nodes.insert(r.node);
    out.reason = absl::StrCat("ranks of attempt ", a.attempt_id, " ran on host ", a.manager_host,
                              ", not this haid's (", this_host_, "): cannot confirm them gone");
    return out;
  }
  std::error_code ec;
  const std::string cwd = fs::current_path(ec).string();
  std::set<int> refused;
  const absl::Time deadline = absl::Now() + wait_;
  RankGroups found = FindRankGroups(Scan(), a, run_root_, cwd);
  HAI_LOG(INFO) << "attempt " << a.attempt_id << ": ending " << found.groups.size()
                << " rank process group(s) under " << run_root_;
  while (true) {
    for (const auto& [pgid, rank] : found.groups) {
      if (::kill(-pgid, SIGKILL) != 0 && errno != ESRCH) {
        HAI_LOG(WARNING) << "attempt " << a.attempt_id << " rank " << rank << ": kill(-" << pgid
                         << "): " << std::strerror(errno);
        refused.insert(rank);
      }
    }
    if (found.groups.empty() || absl::Now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    found = FindRankGroups(Scan(), a, run_root_, cwd);
  }
  std::set<int> left = found.unknown;
  for (const auto& [pgid, rank] : found.groups) left.insert(rank);
  left.insert(refused.begin(), refused.end());
  for (int rank : left) unconfirmed(rank);
  if (!left.empty()) {
    out.reason = absl::StrCat("rank(s) ", absl::StrJoin(left, ","), " of attempt ", a.attempt_id,
                              " could not be confirmed gone after SIGKILL");
  }
  return out;
}

RanksEnded UnconfirmedRankReaper::EndRanks(const AttemptRanks& a) {
  RanksEnded out;
  for (const RankRecord& r : a.ranks) out.unconfirmed_nodes.insert(r.node);
  out.reason = absl::StrCat("haid cannot end the ", runtime_, " runtime's ranks of attempt ",
                            a.attempt_id, " whose manager is gone: cannot confirm them gone");
  return out;
}

}  // namespace hai
