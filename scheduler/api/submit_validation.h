// Submit validation: every bad input gets InvalidArgument / NotFound / FailedPrecondition /
// ResourceExhausted with a message the user can act on, before anything is written.
// Pure apart from the injected file checks, so it is unit-tested without a daemon.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "hai/v1/task.pb.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/rows.h"

namespace hai::api {

// The priority value (a tier number or kAutoPriority) of a request's Priority;
// InvalidArgument for a number that is neither (proto3 enums accept any number).
absl::StatusOr<int> RequestedPriority(hai::v1::Priority p);

// Limits on what one submit may carry.
inline constexpr size_t kMaxNameLength = 128;
inline constexpr size_t kMaxPathLength = 4096;
inline constexpr size_t kMaxArgs = 1024;
inline constexpr size_t kMaxArgLength = 16384;
inline constexpr size_t kMaxArgsTotal = 256 * 1024;
inline constexpr size_t kMaxEnvEntries = 256;
inline constexpr size_t kMaxEnvValueLength = 16384;
inline constexpr int64_t kMaxTimeLimitS = int64_t{366} * 86400;

struct SubmitContext {
  const SchedulerConfig* scheduler = nullptr;
  std::string user;
  const std::vector<policy::Node>* nodes = nullptr;  // all hosts
  const std::map<policy::QuotaKey, int64_t>* quota = nullptr;
  std::function<bool(const std::string&)> is_file;       // regular file exists
  std::function<bool(const std::string&)> is_directory;  // directory exists
};

absl::StatusOr<store::NewChain> ValidateSubmit(const hai::v1::SubmitRequest& req,
                                               const SubmitContext& ctx);

}  // namespace hai::api
