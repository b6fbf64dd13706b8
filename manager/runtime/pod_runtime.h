// PodRuntime: the seam between the attempt lifecycle (which knows Postgres, the stop and
// suspend protocol and the end-of-attempt rules) and whatever actually runs a rank. The local
// runtime runs each rank as a process group on this host; the Kubernetes runtime one Pod per
// rank; the Slurm runtime one batch job per rank. Both must survive a manager restart: Start()
// returns an id that the lifecycle records in pods.pid, and a new manager Adopt()s the rank by that
// id instead of starting a duplicate.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/storage/mount.h"

namespace hai::manager {

// Everything a runtime needs to start one rank.
struct PodSpec {
  int rank = 0;
  std::string node;
  std::vector<int> gpus;
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  std::string cwd;
  // When non-empty: the rank fails with exit code 127 (and says so in its log) if this file
  // does not exist, e.g. the entrypoint of `python train.py`.
  std::string required_file;
  std::string log_path;   // rank log, "<ts> [out|err] text" lines
  std::string exit_path;  // where the rank's exit status is recorded
  // Where the rank's runtime id is kept for a successor manager. The local runtime's rank
  // process creates it itself, exclusively, before it runs anything: a second Start of the
  // same rank finds it and adopts the first (at most one rank per attempt and rank).
  std::string pid_path;
  // Bind mounts from the `storage` table, sorted by mount_path (parents first). Empty: the
  // rank sees the host's filesystem unchanged. See docs/storage.md.
  std::vector<storage::Mount> mounts;
  // A Jupyter container (kind 'jupyter'): the port its server listens on. The local runtime
  // leaves it to the server (bound on 127.0.0.1); the Kubernetes runtime declares it as the
  // containerPort and exposes it on a ClusterIP Service of the attempt. 0 = serves nothing.
  int container_port = 0;
  // Files the manager generated for the rank (a Jupyter container's notebook config; nothing
  // secret: it holds token hashes only), name -> content, read by the rank under files_dir.
  // The local runtime finds them there already (the manager wrote them); the Kubernetes
  // runtime ships them in a per-attempt ConfigMap mounted read-only at files_dir.
  std::string files_dir;
  std::map<std::string, std::string> files;
  // A scratch directory of the rank's own that goes with it (Kubernetes: an emptyDir mounted
  // here; the local runtime: a directory the manager made). "" = none.
  std::string scratch_dir;
  // The GPUs are shared with other ranks (a Jupyter group in jupyter.gpu_sharing_groups): the
  // Kubernetes runtime then requests no GPU resource and names the indices in
  // NVIDIA_VISIBLE_DEVICES instead (docs/jupyter.md).
  bool gpus_shared = false;
  // Resources the rank was placed by (jupyter containers); a Kubernetes runtime sets them as
  // requests and limits. 0 = not specified.
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  // Who the rank belongs to and what it runs in. The local runtime needs none of these; the
  // Kubernetes runtime names, labels and builds its Pods and the rank-0 Service from them.
  int64_t attempt_id = 0;
  int64_t chain_id = 0;
  int attempt_no = 0;
  std::string user;
  std::string task_name;
  int world_size = 1;
  int master_port = 0;
  std::string master_node;  // rank 0's node: the Slurm runtime sets MASTER_ADDR to its address
  std::string image;  // chains.image, else the train environment's image; "" = runtime default
  // The OS identity the rank runs as (users.uid, users.gid, users.supplementary_gids). The
  // local runtime, when the manager is root, runs the user command as this uid and refuses
  // uid/gid 0; -1 = no identity asked for (the rank runs as the manager: for tests of a
  // runtime alone; the lifecycle always sets it). docs/security.md.
  int64_t uid = -1;
  int64_t gid = -1;
  std::vector<int64_t> supplementary_gids;
};

struct PodStatus {
  enum class Phase {
    kRunning,  // the user command is running
    kExited,   // the user command ended; exit_code is valid
    kLost,     // the rank vanished without recording an exit status
  };
  Phase phase = Phase::kRunning;
  int exit_code = 0;  // exit code, or 128+signal
  // Whether anything of the rank still holds resources (a process of the group, a Pod
  // object). An exited rank may still have stragglers; the attempt only ends once every
  // rank is gone.
  bool alive = true;
  // Why the rank ended when the runtime knows more than the exit code (e.g. "image could
  // not be pulled"); "" otherwise. Shown in the attempt's end reason.
  std::string reason;
  // The task ended itself, not the node or hai: killed by a SIGKILL hai did not send (its own
  // process group, `kill -9 0`, or the kernel's OOM killer; Kubernetes: OOMKilled or exit 137
  // without a delete). The lifecycle requeues such a rank up to the chain's cap
  // (scheduler.max_self_requeues) and it never counts against the node (docs/security.md).
  bool self_inflicted = false;
  // Whether the user command has started. False while the runtime still prepares the rank
  // (Kubernetes: the Pod is being scheduled or its image pulled); the pods row then reads
  // 'starting' instead of 'running'. The local runtime starts the command at once.
  bool started = true;
};

enum class PodSignal { kTerminate, kKill };

class PodRuntime {
 public:
  virtual ~PodRuntime() = default;
  // Starts the rank; returns the runtime id recorded in pods.pid. Idempotent per attempt and
  // rank: a rank an earlier manager started (and died before recording) is adopted and its id
  // returned, never started a second time (local: spec.pid_path; Kubernetes: the Pod's name).
  virtual absl::StatusOr<int64_t> Start(const PodSpec& spec) = 0;
  // Takes over a rank started by an earlier manager (`id` from pods.pid). Fails with
  // NotFound when the id no longer names that rank (e.g. it was reused by the OS).
  virtual absl::Status Adopt(int rank, int64_t id, const PodSpec& spec) = 0;
  virtual absl::StatusOr<PodStatus> Poll(int rank) = 0;
  // Signals every process of the rank; a rank that is already gone is not an error.
  virtual absl::Status Signal(int rank, PodSignal signal) = 0;
  // Where rank 0's container_port is reachable from the manager (and from whoever haid hands
  // the URL to): the local runtime serves on this host's loopback; Kubernetes on the cluster
  // IP of the attempt's ClusterIP Service. "" = not known (yet).
  virtual std::string ServiceHost() { return "127.0.0.1"; }
  // Called once when the attempt ends, after every rank is gone: removes what the runtime
  // created per attempt besides the ranks (Kubernetes: the Services, the files' ConfigMap,
  // stray Pods).
  virtual absl::Status Release() { return absl::OkStatus(); }
};

}  // namespace hai::manager
