// Value types describing one attempt as the manager sees it: what the attempt runs (read once
// at claim time) and its pods. Plain structs so the environment/argv builders and the
// lifecycle can be tested without Postgres.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/model/states.h"
#include "manager/jupyter_info.h"
#include "manager/storage/mount.h"
#include "manager/storage/resolve.h"

namespace hai::manager {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// One pods row.
struct PodInfo {
  int rank = 0;
  std::string node;
  std::vector<int> gpus;
  model::PodState state = model::PodState::kCreated;
  std::optional<int64_t> pid;       // runtime id (local: process group id)
  std::optional<int> exit_code;
  // The manager generation that recorded the intent to start the rank (pods.start_generation);
  // nullopt: no manager ever tried, so the rank cannot exist.
  std::optional<int64_t> start_generation;
};

// The attempt and its chain, as read when the manager claims it.
struct AttemptInfo {
  int64_t attempt_id = 0;
  int64_t chain_id = 0;
  int attempt_no = 0;
  int tier = 0;
  model::AttemptState state = model::AttemptState::kQueued;  // BEFORE this manager claimed it
  std::string task_token_hash;

  std::string chain_name;
  std::string user_name;
  model::TaskKind kind = model::TaskKind::kPython;
  std::string node_group;
  std::string entrypoint;
  std::vector<std::string> args;
  std::string workdir;
  EnvList chain_env;
  int whole_life_state = 0;
  // chains.self_requeues: requeues so far because the task ended itself (migration 0011).
  int self_requeues = 0;
  // From train_environments (chain.environment); defaults when the chain names none.
  std::string python = "python3";
  EnvList train_env;
  // chains.image, else the train environment's image ("" when neither names one).
  std::string image;

  std::vector<PodInfo> pods;  // ordered by rank

  // The chain's user (users.uid, user_group_members) and the mounts resolved from the
  // `storage` table at claim time (manager/storage/resolve.h); rows that could not be used
  // are in storage_problems (also logged and written to task_events).
  int64_t user_uid = 0;
  // The OS identity of the user's ranks (migration 0010): users.gid (else the uid) and
  // users.supplementary_gids.
  int64_t user_gid = 0;
  std::vector<int64_t> user_supplementary_gids;
  std::vector<std::string> user_groups;
  std::vector<storage::Mount> mounts;
  std::vector<storage::StorageProblem> storage_problems;

  // Set for kind 'jupyter' once the manager prepared the container (jupyter_pod.h).
  std::optional<JupyterPodInfo> jupyter;
};

}  // namespace hai::manager
