#include "scheduler/api/submit_validation.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/model/proto_enums.h"
#include "common/model/states.h"
#include "scheduler/api/image_ref.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/tier.h"

namespace hai::api {

absl::StatusOr<int> RequestedPriority(hai::v1::Priority p) {
  std::optional<int> value = model::PriorityFromProto(p);
  if (!value.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown priority ", static_cast<int>(p),
        "; use LOW, BELOW_NORMAL, NORMAL, ABOVE_NORMAL, HIGH, VERY_HIGH, EXTREME_HIGH or AUTO"));
  }
  return *value;
}

namespace {

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

bool ValidEnvKey(const std::string& k) {
  if (k.empty() || k.size() > 128 || absl::ascii_isdigit(static_cast<unsigned char>(k[0]))) {
    return false;
  }
  for (char c : k) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Variables the runtime sets for every rank; a user value would silently break the task.
bool ReservedEnvKey(const std::string& k) {
  static const std::set<std::string> kReserved = {
      "RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "CUDA_VISIBLE_DEVICES"};
  return kReserved.count(k) > 0 || absl::StartsWith(k, "HAI_");
}

std::string BaseName(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  auto dot = base.find_last_of('.');
  if (dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  return base;
}

}  // namespace

absl::StatusOr<store::NewChain> ValidateSubmit(const hai::v1::SubmitRequest& req,
                                               const SubmitContext& ctx) {
  store::NewChain c;
  c.user = ctx.user;
  // Jupyter containers are created through JupyterService, never submitted as training.
  std::optional<model::TaskKind> kind =
      req.kind().empty() ? model::TaskKind::kPython : model::ParseTaskKind(req.kind());
  if (kind.has_value()) c.kind = *kind;
  if (!kind.has_value() || c.kind == model::TaskKind::kJupyter) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown task kind '", req.kind(), "'; use python or bash"));
  }

  // Entrypoint: an absolute path to an existing file on the cluster's shared filesystem.
  if (req.entrypoint().empty()) return absl::InvalidArgumentError("no script given");
  if (req.entrypoint().size() > kMaxPathLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("script path is longer than ", kMaxPathLength, " characters"));
  }
  if (HasControlCharacter(req.entrypoint())) {
    return absl::InvalidArgumentError("script path contains NUL or control characters");
  }
  if (req.entrypoint().front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("script path must be absolute, got '", req.entrypoint(), "'"));
  }
  if (!ctx.is_file(req.entrypoint())) {
    return absl::InvalidArgumentError(absl::StrCat("script not found: ", req.entrypoint()));
  }
  c.entrypoint = req.entrypoint();
  if (!req.workdir().empty()) {
    if (HasControlCharacter(req.workdir())) {
      return absl::InvalidArgumentError("working directory contains NUL or control characters");
    }
    if (req.workdir().size() > kMaxPathLength || req.workdir().front() != '/' ||
        !ctx.is_directory(req.workdir())) {
      return absl::InvalidArgumentError(
          absl::StrCat("working directory not found: ", req.workdir()));
    }
    c.workdir = req.workdir();
  }

  c.name = req.name().empty() ? BaseName(req.entrypoint()) : req.name();
  if (!ValidName(c.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("task name must be 1-", kMaxNameLength,
                     " characters of letters, digits, '_', '-' or '.'; got '",
                     c.name.substr(0, 200), c.name.size() > 200 ? "...'" : "'"));
  }

  if (req.args_size() > static_cast<int>(kMaxArgs)) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxArgs, " script arguments"));
  }
  size_t total = 0;
  for (const std::string& a : req.args()) {
    if (a.size() > kMaxArgLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("a script argument is longer than ", kMaxArgLength, " bytes"));
    }
    if (a.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("script arguments cannot contain NUL bytes");
    }
    total += a.size();
    c.args.push_back(a);
  }
  if (total > kMaxArgsTotal) {
    return absl::InvalidArgumentError(
        absl::StrCat("script arguments exceed ", kMaxArgsTotal, " bytes in total"));
  }

  if (req.env_size() > static_cast<int>(kMaxEnvEntries)) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", kMaxEnvEntries, " environment variables"));
  }
  for (const auto& [k, v] : req.env()) {
    if (!ValidEnvKey(k)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid environment variable name '", k.substr(0, 130), "'"));
    }
    if (ReservedEnvKey(k)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable ", k, " is set by hai and cannot be overridden"));
    }
    if (v.size() > kMaxEnvValueLength || v.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("value of ", k, " is too long or has NUL"));
    }
    c.env[k] = v;
  }

  if (req.nodes() < 1 || req.nodes() > ctx.scheduler->max_nodes_per_task) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nodes must be between 1 and ", ctx.scheduler->max_nodes_per_task, ", got ", req.nodes()));
  }
  c.nodes = req.nodes();
  if (req.gpus_per_node() < 0 || req.gpus_per_node() > 64) {
    return absl::InvalidArgumentError("gpus_per_node must be between 0 (whole node) and 64");
  }
  if (req.gpus_per_node() > 0 && req.nodes() > 1) {
    return absl::InvalidArgumentError(
        "gpus_per_node applies to single-node tasks; multi-node tasks take whole nodes");
  }
  c.gpus_per_node = req.gpus_per_node();
  // A time limit is the user's estimate, used to backfill; the upper bound keeps it in the
  // column's range and catches unit mistakes.
  if (req.time_limit_s() < 0 || req.time_limit_s() > kMaxTimeLimitS) {
    return absl::InvalidArgumentError(absl::StrCat("time_limit_s must be between 0 (none) and ",
                                                   kMaxTimeLimitS, " (366 days), got ",
                                                   req.time_limit_s()));
  }
  c.time_limit_s = req.time_limit_s();

  c.group = req.group().empty() ? ctx.scheduler->default_group : req.group();
  std::set<std::string> groups;
  bool jupyter_group = false;
  for (const policy::Node& n : *ctx.nodes) {
    if (n.group == c.group && n.jupyter) jupyter_group = true;
    if (!n.jupyter) groups.insert(n.group);
  }
  if (jupyter_group && groups.count(c.group) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("group ", c.group, " is for Jupyter containers; training cannot run there"));
  }
  if (groups.count(c.group) == 0) {
    return absl::NotFoundError(absl::StrCat("no node group '", c.group.substr(0, 130),
                                            "'; groups: ", absl::StrJoin(groups, ", ")));
  }

  absl::StatusOr<int> priority = req.has_priority()
                                     ? RequestedPriority(req.priority())
                                     : policy::ParsePriority(ctx.scheduler->default_priority);
  if (!priority.ok()) return priority.status();
  c.priority = *priority;
  if (absl::Status image = CheckImageReference(req.image()); !image.ok()) return image;
  c.image = req.image();
  if (req.environment().size() > kMaxNameLength || HasControlCharacter(req.environment())) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment name must be at most ", kMaxNameLength,
                     " characters without NUL or control characters"));
  }
  c.environment = req.environment();
  c.whole_life_state = req.whole_life_state();

  policy::AdmissionRequest admission{c.user, c.group, c.priority, c.nodes, c.gpus_per_node};
  absl::Status admissible = policy::CheckAdmissible(admission, *ctx.nodes, *ctx.quota);
  if (!admissible.ok()) return admissible;
  return c;
}

}  // namespace hai::api
