// Slurm states and output parsers; see slurm_state.h.
#include "common/slurm/slurm_state.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hai::slurm {

JobState ParseJobState(absl::string_view name) {
  static const std::pair<absl::string_view, JobState> kNames[] = {
      {"PENDING", JobState::kPending},       {"CONFIGURING", JobState::kConfiguring},
      {"RUNNING", JobState::kRunning},       {"SUSPENDED", JobState::kSuspended},
      {"COMPLETING", JobState::kCompleting}, {"COMPLETED", JobState::kCompleted},
      {"CANCELLED", JobState::kCancelled},   {"FAILED", JobState::kFailed},
      {"TIMEOUT", JobState::kTimeout},       {"NODE_FAIL", JobState::kNodeFail},
      {"PREEMPTED", JobState::kPreempted},   {"BOOT_FAIL", JobState::kBootFail},
      {"DEADLINE", JobState::kDeadline},     {"OUT_OF_MEMORY", JobState::kOutOfMemory},
      {"REQUEUED", JobState::kRequeued},
  };
  // squeue may decorate a state ("CANCELLED by 0" in some outputs): the first word counts.
  const absl::string_view word = name.substr(0, name.find(' '));
  for (const auto& [n, s] : kNames) {
    if (word == n) return s;
  }
  return JobState::kOther;
}

bool IsJobFinished(JobState s) {
  switch (s) {
    case JobState::kCompleted:
    case JobState::kCancelled:
    case JobState::kFailed:
    case JobState::kTimeout:
    case JobState::kNodeFail:
    case JobState::kPreempted:
    case JobState::kBootFail:
    case JobState::kDeadline:
    case JobState::kOutOfMemory: return true;
    default: return false;
  }
}

bool IsJobStarted(JobState s) {
  return s == JobState::kRunning || s == JobState::kSuspended || s == JobState::kCompleting;
}

bool IsNodeLoss(JobState s) {
  return s == JobState::kNodeFail || s == JobState::kBootFail || s == JobState::kPreempted ||
         s == JobState::kRequeued;
}

absl::StatusOr<std::vector<JobRow>> ParseJobRows(absl::string_view out) {
  std::vector<JobRow> rows;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits('|', 4));
    JobRow r;
    if (f.size() != 5 || !absl::SimpleAtoi(f[0], &r.id) || r.id <= 0) {
      return absl::DataLossError(absl::StrCat("unexpected squeue line: '", line, "'"));
    }
    r.name = std::string(f[1]);
    r.state_name = std::string(f[2]);
    r.state = ParseJobState(f[2]);
    r.node = f[3] == "(null)" ? "" : std::string(f[3]);
    const absl::string_view reason = absl::StripAsciiWhitespace(f[4]);
    r.reason = reason == "None" ? "" : std::string(reason);
    rows.push_back(std::move(r));
  }
  return rows;
}

NodeHealth ParseNodeState(absl::string_view state) {
  const std::string s = absl::AsciiStrToLower(state);
  if (absl::StrContains(s, "drain")) return NodeHealth::kDrain;
  // '*': the node does not respond to slurmctld.
  if (absl::StartsWith(s, "down") || absl::StartsWith(s, "fail") || absl::StrContains(s, "*") ||
      absl::StrContains(s, "+down") || absl::StrContains(s, "+fail")) {
    return NodeHealth::kDown;
  }
  return NodeHealth::kUp;
}

absl::string_view Name(NodeHealth h) {
  switch (h) {
    case NodeHealth::kUp: return "up";
    case NodeHealth::kDrain: return "drained";
    case NodeHealth::kDown: return "down";
  }
  return "?";
}

int GpuCount(absl::string_view gres) {
  int total = 0;
  // Entries are comma-separated at the top level; "(IDX:0,2)" holds commas of its own.
  int depth = 0;
  size_t start = 0;
  auto entry = [&](absl::string_view e) {
    e = e.substr(0, e.find('('));
    std::vector<absl::string_view> parts = absl::StrSplit(e, ':');
    if (parts.size() < 2 || parts[0] != "gpu") return;
    int n = 0;
    if (absl::SimpleAtoi(parts.back(), &n) && n > 0) total += n;
  };
  for (size_t i = 0; i <= gres.size(); ++i) {
    if (i < gres.size() && gres[i] == '(') ++depth;
    if (i < gres.size() && gres[i] == ')') --depth;
    if (i == gres.size() || (gres[i] == ',' && depth == 0)) {
      entry(gres.substr(start, i - start));
      start = i + 1;
    }
  }
  return total;
}

absl::StatusOr<std::vector<NodeRow>> ParseNodeRows(absl::string_view out) {
  std::vector<NodeRow> rows;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits('|', 5));
    if (f.size() != 6 || f[0].empty()) {
      return absl::DataLossError(absl::StrCat("unexpected sinfo line: '", line, "'"));
    }
    NodeRow r;
    r.name = std::string(absl::StripAsciiWhitespace(f[0]));
    r.state = std::string(absl::StripAsciiWhitespace(f[1]));
    r.health = ParseNodeState(r.state);
    r.addr = std::string(absl::StripAsciiWhitespace(f[2]));
    r.gpus = GpuCount(absl::StripAsciiWhitespace(f[3]));
    r.gpus_used = GpuCount(absl::StripAsciiWhitespace(f[4]));
    const absl::string_view reason = absl::StripAsciiWhitespace(f[5]);
    r.reason = reason == "none" ? "" : std::string(reason);
    rows.push_back(std::move(r));
  }
  return rows;
}

absl::StatusOr<int64_t> ParseSubmitOutput(absl::string_view out) {
  absl::string_view s = absl::StripAsciiWhitespace(out);
  s = s.substr(0, s.find(';'));
  int64_t id = 0;
  if (!absl::SimpleAtoi(s, &id) || id <= 0) {
    return absl::DataLossError(absl::StrCat("sbatch --parsable printed '", out, "'"));
  }
  return id;
}

std::optional<int> ParseExitCode(absl::string_view line) {
  for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipWhitespace())) {
    if (!absl::ConsumePrefix(&field, "ExitCode=")) continue;
    std::vector<absl::string_view> p = absl::StrSplit(field, ':');
    int code = 0, sig = 0;
    if (p.size() != 2 || !absl::SimpleAtoi(p[0], &code) || !absl::SimpleAtoi(p[1], &sig)) {
      return std::nullopt;
    }
    return sig != 0 ? 128 + sig : code;
  }
  return std::nullopt;
}

}  // namespace hai::slurm
