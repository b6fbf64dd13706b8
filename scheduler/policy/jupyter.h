// The pure core of Jupyter dev containers (docs/jupyter.md): their quota, admission at
// create time, bin-packing onto jupyter node groups, and idle culling. Separate from Decide
// (training) on purpose: containers live only on jupyter groups, which training never uses,
// and training never preempts them, so the two never compete for a node and need not share
// one decision. Like the rest of scheduler/policy: no I/O, no clock, no globals.
//
// Quota (`quota` rows, owner user/group/public like training quotas):
//   jupyter:<group>:containers   max open containers of the user in that group
//   jupyter:<group>:cpu          max CPU cores per container
//   jupyter:<group>:memory_gib   max memory (GiB) summed over the user's containers there
//   jupyter:<group>:gpus         max GPUs summed over the user's containers there
//   jupyter:<group>:keep_alive   max of those containers that may opt out of idle culling
//   jupyter:<group>              HAI Platform's packed form: the decimal digits, from the
//                                right, are 2 of count, 3 of CPU cores, up to 4 of memory
//                                GiB (100012810 = 1000 GiB, 128 cores, 10 containers).
// Per owner an explicit row wins over the packed row for the same limit. Layering as for
// training: public, then the max over the user's groups, then the user's own rows.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/types.h"

namespace hai::policy {

// ---------------------------------------------------------------- quota

enum class JupyterLimit { kContainers, kCpu, kMemory, kGpus, kKeepAlive };
// The resource suffix of the limit: containers, cpu, memory_gib, gpus, keep_alive.
const char* JupyterLimitName(JupyterLimit limit);

// Effective limits of one user in one jupyter group. A limit without any row is 0: nothing
// of that kind is allowed (a container needs containers >= 1, cpu and memory > 0).
struct JupyterQuota {
  int64_t containers = 0;
  int64_t cpu_millis = 0;  // per container
  int64_t memory_mib = 0;  // total over the user's containers in the group
  int64_t gpus = 0;        // total likewise
  int64_t keep_alive = 0;  // containers that may opt out of culling
};

struct JupyterQuotaKey {
  std::string user;
  std::string group;
  auto operator<=>(const JupyterQuotaKey&) const = default;
};

struct ResolvedJupyterQuota {
  std::map<JupyterQuotaKey, JupyterQuota> quota;
  std::vector<QuotaProblem> problems;  // rows skipped, with the reason
};

// Decodes HAI's packed `jupyter:<group>` value. Error (InvalidArgument) for values below
// 100000 (no memory digits: HAI's parser crashes on them) and above 999999999 (memory has at
// most 4 digits); negative values likewise.
absl::StatusOr<JupyterQuota> DecodePackedJupyterQuota(int64_t value);

// Resolves the "jupyter:" rows (other rows are ignored: ResolveQuota handles them).
// Inactive and expired rows do not count. `user_groups`: every user -> its user groups.
ResolvedJupyterQuota ResolveJupyterQuota(
    const std::vector<QuotaRow>& rows,
    const std::map<std::string, std::vector<std::string>>& user_groups, absl::Time now);

// Only the bad "jupyter:" rows of ResolveJupyterQuota (cheap: no per-user resolution), for
// the loop to report with the training quota's problems (`hai-cli admin check`).
std::vector<QuotaProblem> JupyterQuotaProblems(
    const std::vector<QuotaRow>& rows,
    const std::map<std::string, std::vector<std::string>>& user_groups, absl::Time now);

// The user's limits in `group` (all zero when no row grants anything).
JupyterQuota JupyterQuotaFor(const ResolvedJupyterQuota& resolved, const std::string& user,
                             const std::string& group);

// ---------------------------------------------------------------- containers

// One open container (a chain of kind jupyter with its current attempt).
struct JupyterContainer {
  int64_t attempt_id = 0;
  int64_t chain_id = 0;
  std::string user;
  std::string group;
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  bool keep_alive = false;
  absl::Time first_submit;  // FIFO key
  // Holding a node (scheduled/starting/running): where, and which GPU indices.
  bool placed = false;
  std::string node;
  std::vector<int> gpu_indices;
};

// Largest container a request may ask for: 1M cores, 1 PiB, 64 GPUs. Far above any node,
// so they only keep sums in range and typos out.
inline constexpr int64_t kMaxJupyterCpuMillis = int64_t{1000} * 1000 * 1000;
inline constexpr int64_t kMaxJupyterMemoryMiB = int64_t{1} << 30;
inline constexpr int kMaxJupyterGpus = 64;

struct JupyterCreateRequest {
  std::string user;
  std::string group;
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  bool keep_alive = false;
};

// Admission of a new container given the user's open containers (any group; only those of
// the request's group count) and the user's limits there:
//  - InvalidArgument: cpu/memory not positive or above the kMaxJupyter* bounds, gpus
//    negative or above kMaxJupyterGpus;
//  - FailedPrecondition: the group has no jupyter node (or is a training group), or no node
//    of it could ever hold the container;
//  - ResourceExhausted: a limit would be exceeded; the message names the quota row
//    (e.g. "jupyter:gpu:containers") with the limit and what is in use.
absl::Status CheckJupyterCreate(const JupyterCreateRequest& request,
                                const std::vector<JupyterContainer>& open,
                                const JupyterQuota& quota, const std::vector<Node>& nodes);

// ---------------------------------------------------------------- placement

struct JupyterPlacementConfig {
  // Groups whose GPUs may be shared: a GPU there serves up to max_containers_per_gpu
  // containers. Elsewhere a GPU belongs to one container.
  std::set<std::string> gpu_sharing_groups;
  int max_containers_per_gpu = 4;
};

struct JupyterPlan {
  std::vector<StartDecision> starts;  // one rank each; tier is unused (kLow)
  std::vector<Pending> pending;       // position_in_tier = FIFO position among waiting ones
};

// Places queued containers (FIFO by first submit; a container that does not fit does not
// block smaller ones behind it) onto ready jupyter nodes of their group: CPU and memory are
// summed per node (a node with cpu_millis/memory_mib 0 does not track that resource), GPUs
// by index (dedicated, or shared per the config). Among the nodes that fit, the fullest one
// after placement wins (best fit by memory, then CPU, then name), so containers pack onto
// few nodes and large holes stay open for large containers.
JupyterPlan PlaceJupyter(const std::vector<Node>& nodes,
                         const std::vector<JupyterContainer>& placed,
                         const std::vector<JupyterContainer>& queued,
                         const JupyterPlacementConfig& config);

// ---------------------------------------------------------------- idle culling

struct JupyterActivity {
  int64_t chain_id = 0;
  int64_t attempt_id = 0;
  bool keep_alive = false;
  absl::Duration idle_timeout = absl::ZeroDuration();  // 0 = never culled
  absl::Time started_at;                               // the current attempt's start
  std::optional<absl::Time> server_activity;           // Jupyter's last_activity (kernels, API)
  std::optional<absl::Time> api_activity;              // last JupyterService request about it
};

struct CullDecision {
  int64_t chain_id = 0;
  int64_t attempt_id = 0;
  absl::Duration idle_for;
  std::string reason;  // one line for the task's end reason and events
};

// Running containers idle (no activity of either kind since the latest of the three times)
// for at least their timeout, unless keep_alive or the timeout is 0.
std::vector<CullDecision> IdleCulls(const std::vector<JupyterActivity>& running, absl::Time now);

}  // namespace hai::policy
