// Human and JSON renderings of the hai.v1 messages hai-cli prints. Pure: `now` and the time
// zone are parameters, so the exact output is unit-tested. JSON uses protobuf's canonical
// mapping with the .proto field names and every field present (zeros included), so scripts
// see a stable shape: {"chain_id": "42", ...} (64-bit integers are strings in that mapping).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "hai/v1/cluster.pb.h"
#include "hai/v1/task.pb.h"
#include "hai/v1/user.pb.h"

namespace hai::cli {

// A state as hai-cli prints it: the task model's name ("running", common/model/states.h), or
// "state <n>" for a number this build does not know.
std::string StateText(hai::v1::Task::State s);
std::string StateText(hai::v1::Attempt::State s);
std::string StateText(hai::v1::Pod::State s);
std::string StateText(hai::v1::Node::State s);

// The chain (or container) is over for good: succeeded, failed or stopped.
bool IsFinished(hai::v1::Task::State s);
// The attempt ended (succeeded, failed, stopped or suspended).
bool IsEnded(hai::v1::Attempt::State s);

// One JSON document (no trailing newline).
std::string ToJson(const google::protobuf::Message& message);

// Timestamp -> absl::Time; absl::InfinitePast() for an unset (zero) timestamp.
absl::Time FromProtoTime(const google::protobuf::Timestamp& ts);

// `python`/`bash` output: "submitted chain 42 train (queued)".
std::string RenderSubmitted(const hai::v1::Task& task);

// `status`: the chain, why it waits, and every attempt with its pods.
std::string RenderTask(const hai::v1::Task& task, absl::Time now, absl::TimeZone tz);

// `list`: ID NAME USER STATE TIER NODES GROUP AGE/RUNTIME REASON.
std::string RenderTaskList(const hai::v1::ListResponse& list, absl::Time now);

// `queue`: POS TIER ID NAME USER NODES GROUP REASON DETAIL.
std::string RenderQueue(const hai::v1::QueueResponse& queue);

// `nodes`: NAME GROUP GPUS USED STATE REASON TASKS.
std::string RenderNodes(const hai::v1::ListNodesResponse& nodes);

// `whoami`: user, role, groups, then GROUP TIER LIMIT USED SOURCE.
std::string RenderWhoAmI(const hai::v1::WhoAmIResponse& me);
// A user's jupyter quota per group, used/limit ("no jupyter quota" when empty).
std::string RenderJupyterQuota(
    const google::protobuf::RepeatedPtrField<hai::v1::JupyterQuotaLine>& lines);
// 8192 MiB -> "8Gi", 1536 -> "1.5Gi"; 2000 millicores -> "2", 500 -> "0.5".
std::string GiBText(int64_t mib);
std::string CoresText(int64_t millis);

// One-line result of stop/suspend/resume/priority: "chain 42 train: running, ...".
std::string RenderTaskLine(const hai::v1::Task& task);

}  // namespace hai::cli
