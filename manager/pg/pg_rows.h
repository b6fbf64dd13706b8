// Typed mappings of the rows PgAttemptStore reads, by column name, so a reordered or added
// column in a SELECT cannot shift a field (the claim once read `r[9]`..`r[17]` by position).
// Each SELECT names its columns with the aliases these functions read.
#pragma once

#include <pqxx/pqxx>

#include "manager/attempt_info.h"
#include "manager/attempt_store.h"
#include "manager/jupyter_info.h"
#include "manager/storage/resolve.h"

namespace hai::manager::pg_rows {

// The attempt and its chain: attempt_id, chain_id, attempt_no, tier, state, task_token_hash,
// chain_name, user_name, kind, node_group, entrypoint, args (JSON text), workdir, chain_env
// (JSON text), whole_life_state, python, train_env (JSON text), image.
void ReadAttempt(const pqxx::row& r, AttemptInfo* a);
// rank, node, gpus (comma-separated), state, pid, exit_code, start_generation.
PodInfo ReadPod(const pqxx::row& r);
// id, host_path, mount_path, owner_kind, owner, conditions, mount_type, read_only, action.
storage::StorageRow ReadStorage(const pqxx::row& r);
// state, stop_requested, suspend_requested, suspend_reason, go_suspend,
// seconds_since_suspend_request.
ControlState ReadControl(const pqxx::row& r);
// cpu_millis, memory_mib, gpus.
JupyterPodInfo ReadJupyter(const pqxx::row& r);

}  // namespace hai::manager::pg_rows
