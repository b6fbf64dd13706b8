// Slurm's commands without a shell; see slurm_cli.h.
#include "common/slurm/slurm_cli.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/command.h"

namespace hai::slurm {
namespace {

// Messages of a command that ran against a job Slurm has finished with: nothing to do.
bool AlreadyGone(const std::string& err) {
  return absl::StrContains(err, "already completing or completed") ||
         absl::StrContains(err, "Invalid job id specified") ||
         absl::StrContains(err, "Job/step already completing");
}

}  // namespace

absl::StatusOr<SlurmCli::Output> SlurmCli::Run(const std::string& command,
                                               std::vector<std::string> args,
                                               const std::string& stdin_data) {
  args.insert(args.begin(), opt_.bin_dir.empty() ? command : opt_.bin_dir + "/" + command);
  CommandOptions o;
  o.timeout = opt_.timeout;
  o.stdin_data = stdin_data;
  o.env = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin", "LC_ALL=C"};
  if (!opt_.slurm_conf.empty()) o.env.push_back("SLURM_CONF=" + opt_.slurm_conf);
  auto r = RunCommand(args, o);
  if (!r.ok()) {
    return absl::Status(r.status().code(), absl::StrCat("slurm: ", r.status().message()));
  }
  return Output{r->exit_code, std::move(r->out), std::move(r->err)};
}

absl::Status SlurmCli::Failure(const std::string& command, const Output& o) const {
  const std::string err(absl::StripAsciiWhitespace(o.err.empty() ? o.out : o.err));
  const std::string msg = absl::StrCat(command, " exited with ", o.exit_code, ": ", err);
  if (absl::StrContains(err, "Unable to contact slurm controller") ||
      absl::StrContains(err, "Socket timed out") || absl::StrContains(err, "Connection refused") ||
      absl::StrContains(err, "Zero Bytes were transmitted") ||
      absl::StrContains(err, "Communication connection failure") ||
      absl::StrContains(err, "Could not establish a configuration source") ||
      absl::StrContains(err, "Munge") || absl::StrContains(err, "munge")) {
    return absl::UnavailableError(msg);
  }
  if (absl::StrContains(err, "Invalid job id")) return absl::NotFoundError(msg);
  if (command == "sbatch") return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<int64_t> SlurmCli::Submit(const std::vector<std::string>& args,
                                         const std::string& script) {
  std::vector<std::string> a = {"--parsable"};
  a.insert(a.end(), args.begin(), args.end());
  auto o = Run("sbatch", std::move(a), script);
  if (!o.ok()) return o.status();
  if (o->exit_code != 0) return Failure("sbatch", *o);
  return ParseSubmitOutput(o->out);
}

absl::StatusOr<std::vector<JobRow>> SlurmCli::JobsByName(const std::vector<std::string>& names) {
  if (names.empty()) return std::vector<JobRow>{};
  auto o = Run("squeue", {"--noheader", "--states=all", "--name=" + absl::StrJoin(names, ","),
                          "--format=" + std::string(kJobFormat)});
  if (!o.ok()) return o.status();
  if (o->exit_code != 0) return Failure("squeue", *o);
  return ParseJobRows(o->out);
}

absl::StatusOr<JobRow> SlurmCli::Job(int64_t id) {
  auto o = Run("squeue", {"--noheader", "--states=all", absl::StrCat("--jobs=", id),
                          "--format=" + std::string(kJobFormat)});
  if (!o.ok()) return o.status();
  if (o->exit_code != 0) return Failure("squeue", *o);
  auto rows = ParseJobRows(o->out);
  if (!rows.ok()) return rows.status();
  for (JobRow& r : *rows) {
    if (r.id == id) return std::move(r);
  }
  return absl::NotFoundError(absl::StrCat("Slurm does not know job ", id));
}

absl::StatusOr<std::vector<NodeRow>> SlurmCli::Nodes(const std::vector<std::string>& names) {
  std::vector<std::string> args = {"--noheader", "--Node", "--Format=" + std::string(kNodeFormat)};
  if (!names.empty()) args.push_back("--nodes=" + absl::StrJoin(names, ","));
  auto o = Run("sinfo", std::move(args));
  if (!o.ok()) return o.status();
  if (o->exit_code != 0) return Failure("sinfo", *o);
  auto rows = ParseNodeRows(o->out);
  if (!rows.ok()) return rows.status();
  // A node in several partitions is listed once per partition.
  std::vector<NodeRow> unique;
  for (NodeRow& r : *rows) {
    bool seen = false;
    for (const NodeRow& u : unique) seen = seen || u.name == r.name;
    if (!seen) unique.push_back(std::move(r));
  }
  return unique;
}

absl::Status SlurmCli::SignalBatch(int64_t id, const std::string& signal) {
  auto o = Run("scancel", {"--batch", "--signal=" + signal, absl::StrCat(id)});
  if (!o.ok()) return o.status();
  if (o->exit_code != 0 && !AlreadyGone(o->err)) return Failure("scancel", *o);
  return absl::OkStatus();
}

absl::Status SlurmCli::Kill(int64_t id) {
  auto o = Run("scancel", {"--full", "--signal=KILL", absl::StrCat(id)});
  if (!o.ok()) return o.status();
  // A pending job has no processes to signal: the cancel below ends it.
  if (o->exit_code != 0 && !AlreadyGone(o->err) && !absl::StrContains(o->err, "pending")) {
    return Failure("scancel", *o);
  }
  o = Run("scancel", {absl::StrCat(id)});
  if (!o.ok()) return o.status();
  if (o->exit_code != 0 && !AlreadyGone(o->err)) return Failure("scancel", *o);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int>> SlurmCli::ExitCode(int64_t id) {
  auto o = Run("scontrol", {"--oneliner", "show", "job", absl::StrCat(id)});
  if (!o.ok()) return o.status();
  if (o->exit_code != 0) return Failure("scontrol", *o);
  return ParseExitCode(o->out);
}

}  // namespace hai::slurm
