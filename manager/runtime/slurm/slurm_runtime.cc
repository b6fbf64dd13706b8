// Slurm batch-job runtime; see slurm_runtime.h.
#include "manager/runtime/slurm/slurm_runtime.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "manager/runtime/local/exit_file.h"
#include "manager/runtime/local/rank_supervisor.h"

namespace hai::manager::slurm_rt {
namespace {

std::string ShellQuote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

// The last bytes of the job's own output (what the batch shell said before the supervisor
// ran, e.g. "hai-manager: not found"), on one line.
std::string OutputTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 300) text = text.substr(text.size() - 300);
  absl::StrReplaceAll({{"\n", " "}}, &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

std::string JobName(const std::string& prefix, int64_t attempt_id, int rank) {
  return absl::StrCat(prefix, "-", attempt_id, "-", rank);
}

std::string RankDir(const PodSpec& spec) {
  const std::string run_dir = std::filesystem::path(spec.exit_path).parent_path().string();
  return absl::StrCat(run_dir, "/rank-", spec.rank, ".slurm");
}

std::string RankExitPath(const std::string& rank_dir) { return rank_dir + "/exit"; }

absl::StatusOr<Submission> BuildSubmission(const SlurmRuntimeOptions& opt, const PodSpec& spec,
                                           int64_t attempt_id, const std::string& rank_dir,
                                           const std::string& env_file) {
  if (spec.node.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", spec.rank, " has no node"));
  }
  // Slurm starts the job on the node as its user, without privileges: hai cannot set up a
  // mount namespace there. A storage row whose mount path is its host path needs none (the
  // nodes see the same filesystem); any other would silently show the task the wrong files.
  for (const storage::Mount& m : spec.mounts) {
    if (m.host_path != m.mount_path) {
      return absl::FailedPreconditionError(absl::StrCat(
          "storage row ", m.row_id, " mounts ", m.host_path, " at ", m.mount_path,
          ": the Slurm runtime cannot bind-mount (Slurm runs the job without privileges); "
          "give it mount_path = host_path and mount it on the nodes (docs/slurm.md)"));
    }
  }
  if (opt.run_as_users && (spec.uid <= 0 || spec.gid <= 0) && spec.uid != -1) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank ", spec.rank, ": refusing to run as uid ", spec.uid, " gid ", spec.gid,
                     " (the user needs users.uid/gid > 0, docs/security.md)"));
  }
  Submission s;
  s.args = {absl::StrCat("--job-name=", JobName(opt.job_name_prefix, attempt_id, spec.rank)),
            "--nodelist=" + spec.node, "--nodes=1", "--ntasks=1",
            // hai decides whether a rank runs again (a requeue is a new attempt and new job).
            "--no-requeue", "--export-file=" + env_file, "--output=" + rank_dir + "/slurm.out",
            "--open-mode=append", "--chdir=" + rank_dir};
  // A GPU group shared by several ranks (Jupyter sharing groups) is not Slurm's to bind:
  // those ranks request no GRES and the GPUs stay as hai's bookkeeping says.
  if (!spec.gpus.empty() && !spec.gpus_shared) {
    s.args.push_back(absl::StrCat("--gres=gpu:", spec.gpus.size()));
  }
  if (spec.cpu_millis > 0) {
    s.args.push_back(absl::StrCat("--cpus-per-task=", (spec.cpu_millis + 999) / 1000));
  }
  if (spec.memory_mib > 0) s.args.push_back(absl::StrCat("--mem=", spec.memory_mib, "M"));
  if (!opt.partition.empty()) s.args.push_back("--partition=" + opt.partition);
  if (!opt.account.empty()) s.args.push_back("--account=" + opt.account);
  if (!opt.qos.empty()) s.args.push_back("--qos=" + opt.qos);
  if (opt.run_as_users && spec.uid > 0) {
    s.args.push_back(absl::StrCat("--uid=", spec.uid));
    s.args.push_back(absl::StrCat("--gid=", spec.gid));
  }
  s.args.insert(s.args.end(), opt.extra_sbatch_args.begin(), opt.extra_sbatch_args.end());
  // The batch script execs the rank supervisor as the job's user: no --run-as (Slurm already
  // switched users), no mounts (see above), its environment is the job's.
  PodSpec sup = spec;
  sup.exit_path = RankExitPath(rank_dir);
  sup.mounts.clear();
  std::vector<std::string> argv = SupervisorArgv(opt.supervisor_binary, sup);
  std::vector<std::string> quoted;
  quoted.reserve(argv.size());
  for (const std::string& a : argv) quoted.push_back(ShellQuote(a));
  s.script = absl::StrCat("#!/bin/sh\n# hai attempt ", attempt_id, " rank ", spec.rank,
                          " (docs/slurm.md)\nexec ", absl::StrJoin(quoted, " "), "\n");
  return s;
}

SlurmPodRuntime::SlurmPodRuntime(std::unique_ptr<hai::slurm::SlurmCli> cli, int64_t attempt_id,
                                 SlurmRuntimeOptions options)
    : cli_(std::move(cli)), attempt_id_(attempt_id), opt_(std::move(options)) {}

absl::Status SlurmPodRuntime::PrepareFiles(const PodSpec& spec, const std::string& rank_dir) {
  const bool chown_to_user = opt_.run_as_users && spec.uid > 0;
  if (::mkdir(rank_dir.c_str(), 0700) != 0 && errno != EEXIST) return Errno("mkdir " + rank_dir);
  struct stat st {};
  if (::lstat(rank_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(rank_dir + " is not a directory");
  }
  if (chown_to_user &&
      ::chown(rank_dir.c_str(), static_cast<uid_t>(spec.uid), static_cast<gid_t>(spec.gid)) != 0) {
    return Errno("chown " + rank_dir);
  }
  // The supervisor runs as the user and appends to the log; haid reads it as root.
  const int fd =
      ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("open " + spec.log_path);
  absl::Status s;
  if (chown_to_user &&
      ::fchown(fd, static_cast<uid_t>(spec.uid), static_cast<gid_t>(spec.gid)) != 0) {
    s = Errno("chown " + spec.log_path);
  }
  ::close(fd);
  return s;
}

std::vector<std::string> SlurmPodRuntime::JobEnvironment(const PodSpec& spec) {
  std::string master_addr = spec.master_node.empty() ? spec.node : spec.master_node;
  if (auto it = nodes_.find(master_addr); it == nodes_.end()) {
    auto rows = cli_->Nodes({master_addr});
    if (rows.ok()) {
      for (auto& r : *rows) nodes_[r.name] = r;
    } else {
      HAI_LOG(WARNING) << "slurm: address of node " << master_addr << ": " << rows.status();
    }
  }
  if (auto it = nodes_.find(master_addr); it != nodes_.end() && !it->second.addr.empty()) {
    master_addr = it->second.addr;
  }
  // HOME, USER and LOGNAME of the task's account, in place of the manager's (root's), as the
  // local runtime's supervisor does when it drops privileges.
  std::map<std::string, std::string> account;
  if (opt_.run_as_users && spec.uid > 0) {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(static_cast<uid_t>(spec.uid), &pw, buf.data(), buf.size(), &found) == 0 &&
        found != nullptr) {
      account = {{"HOME", pw.pw_dir}, {"USER", pw.pw_name}, {"LOGNAME", pw.pw_name}};
    }
  }
  std::vector<std::string> env;
  for (const std::string& kv : spec.env) {
    const std::string name = kv.substr(0, kv.find('='));
    if (name == "CUDA_VISIBLE_DEVICES" || name == "MASTER_ADDR" || account.count(name) > 0) {
      continue;
    }
    env.push_back(kv);
  }
  for (const auto& [k, v] : account) env.push_back(k + "=" + v);
  env.push_back("MASTER_ADDR=" + master_addr);
  return env;
}

absl::StatusOr<int64_t> SlurmPodRuntime::Start(const PodSpec& spec) {
  const std::string name = JobName(opt_.job_name_prefix, attempt_id_, spec.rank);
  const std::string rank_dir = RankDir(spec);
  if (spec.rank == 0) service_node_ = spec.node;
  // Submitted already by a manager that died before recording the id: that job is the rank.
  auto existing = cli_->JobsByName({name});
  if (!existing.ok()) return existing.status();
  if (!existing->empty()) {
    const hai::slurm::JobRow* newest = &existing->front();
    for (const auto& j : *existing) newest = j.id > newest->id ? &j : newest;
    HAI_LOG(INFO) << "rank " << spec.rank << ": Slurm job " << newest->id << " (" << name
                  << ") exists already; adopting it";
    ranks_[spec.rank] = Rank{newest->id, name, spec.node, rank_dir, std::nullopt};
    refreshed_ = absl::InfinitePast();
    return newest->id;
  }
  const std::string env_file =
      absl::StrCat(std::filesystem::path(spec.exit_path).parent_path().string(), "/rank-",
                   spec.rank, ".slurm-env");
  auto sub = BuildSubmission(opt_, spec, attempt_id_, rank_dir, env_file);
  if (!sub.ok()) return sub.status();
  if (absl::Status s = PrepareFiles(spec, rank_dir); !s.ok()) return s;
  // The environment (the task token among it) in a root-only file that sbatch reads as we
  // submit and that is removed right after: never in argv.
  std::string data;
  for (const std::string& kv : JobEnvironment(spec))
    absl::StrAppend(&data, kv, std::string(1, '\0'));
  ::unlink(env_file.c_str());
  const int fd =
      ::open(env_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("open " + env_file);
  const bool written = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  if (!written) {
    ::unlink(env_file.c_str());
    return Errno("write " + env_file);
  }
  auto id = cli_->Submit(sub->args, sub->script);
  ::unlink(env_file.c_str());
  if (!id.ok()) return id.status();
  ranks_[spec.rank] = Rank{*id, name, spec.node, rank_dir, std::nullopt};
  refreshed_ = absl::InfinitePast();
  HAI_LOG(INFO) << "rank " << spec.rank << ": Slurm job " << *id << " (" << name << ") on "
                << spec.node;
  return *id;
}

absl::Status SlurmPodRuntime::Adopt(int rank, int64_t id, const PodSpec& spec) {
  const std::string name = JobName(opt_.job_name_prefix, attempt_id_, rank);
  const std::string rank_dir = RankDir(spec);
  if (rank == 0) service_node_ = spec.node;
  auto job = cli_->Job(id);
  if (job.ok() && job->name != name) {
    return absl::NotFoundError(
        absl::StrCat("Slurm job ", id, " is '", job->name, "', not rank ", rank, " (", name, ")"));
  }
  if (!job.ok() && absl::IsNotFound(job.status())) {
    // Slurm forgot it (MinJobAge): adoptable only when it recorded how it ended.
    auto code = ReadExitFile(RankExitPath(rank_dir));
    if (!code.ok() || !code->has_value()) return job.status();
  } else if (!job.ok()) {
    // slurmctld unreachable: the job may well run. Polls tell once Slurm answers.
    HAI_LOG(WARNING) << "rank " << rank << ": cannot check Slurm job " << id
                     << " yet: " << job.status();
  }
  ranks_[rank] = Rank{id, name, spec.node, rank_dir, std::nullopt};
  refreshed_ = absl::InfinitePast();
  return absl::OkStatus();
}

absl::Status SlurmPodRuntime::Refresh(bool force) {
  if (!force && absl::Now() - refreshed_ < opt_.poll_interval) return absl::OkStatus();
  std::vector<std::string> names, node_names;
  for (const auto& [rank, r] : ranks_) {
    names.push_back(r.name);
    node_names.push_back(r.node);
  }
  auto jobs = cli_->JobsByName(names);
  if (!jobs.ok()) return jobs.status();
  auto nodes = cli_->Nodes(node_names);
  if (!nodes.ok()) return nodes.status();
  jobs_.clear();
  for (hai::slurm::JobRow& j : *jobs) jobs_[j.name + "#" + std::to_string(j.id)] = std::move(j);
  for (hai::slurm::NodeRow& n : *nodes) nodes_[n.name] = std::move(n);
  refreshed_ = absl::Now();
  return absl::OkStatus();
}

absl::StatusOr<PodStatus> SlurmPodRuntime::Poll(int rank) {
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return absl::NotFoundError(absl::StrCat("unknown rank ", rank));
  Rank& r = it->second;
  if (absl::Status s = Refresh(false); !s.ok()) return s;
  RankFacts f;
  f.job_id = r.job_id;
  f.node = r.node;
  if (auto j = jobs_.find(r.name + "#" + std::to_string(r.job_id)); j != jobs_.end()) {
    f.job = j->second;
  }
  if (auto n = nodes_.find(r.node); n != nodes_.end()) f.node_row = n->second;
  const std::string exit_path = RankExitPath(r.rank_dir);
  auto code = ReadExitFile(exit_path);
  if (!code.ok()) return code.status();
  if (!code->has_value() && f.job.has_value() && hai::slurm::IsJobFinished(f.job->state)) {
    // The supervisor writes the file just before it exits: read again after seeing the end.
    code = ReadExitFile(exit_path);
    if (!code.ok()) return code.status();
  }
  if (code->has_value()) {
    f.exit_code = **code;
    f.exit_reason = ReadExitReason(exit_path);
  }
  f.slurm_exit_code = r.slurm_exit_code;
  if (NeedsSlurmExitCode(f)) {
    auto slurm_code = cli_->ExitCode(r.job_id);
    if (slurm_code.ok() && slurm_code->has_value()) r.slurm_exit_code = **slurm_code;
    f.slurm_exit_code = r.slurm_exit_code;
    f.batch_output = OutputTail(r.rank_dir + "/slurm.out");
  }
  return MapRank(f);
}

absl::Status SlurmPodRuntime::Signal(int rank, PodSignal signal) {
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return absl::NotFoundError(absl::StrCat("unknown rank ", rank));
  const Rank& r = it->second;
  refreshed_ = absl::InfinitePast();  // the next Poll sees the effect
  auto j = jobs_.find(r.name + "#" + std::to_string(r.job_id));
  const bool started = j == jobs_.end() || hai::slurm::IsJobStarted(j->second.state);
  // A job still pending has no process to give the notice to: it is cancelled.
  if (signal == PodSignal::kKill || !started) return cli_->Kill(r.job_id);
  return cli_->SignalBatch(r.job_id, "TERM");
}

std::string SlurmPodRuntime::ServiceHost() {
  if (service_node_.empty()) return "";
  if (auto it = nodes_.find(service_node_); it != nodes_.end() && !it->second.addr.empty()) {
    return it->second.addr;
  }
  return service_node_;
}

absl::Status SlurmPodRuntime::Release() {
  std::vector<std::string> names;
  for (const auto& [rank, r] : ranks_) names.push_back(r.name);
  auto jobs = cli_->JobsByName(names);
  if (!jobs.ok()) return jobs.status();
  absl::Status first;
  for (const hai::slurm::JobRow& j : *jobs) {
    if (hai::slurm::IsJobFinished(j.state)) continue;
    HAI_LOG(WARNING) << "release: cancelling leftover Slurm job " << j.id << " (" << j.name << ")";
    if (absl::Status s = cli_->Kill(j.id); !s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace hai::manager::slurm_rt
