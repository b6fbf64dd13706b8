// Column lists and row -> struct mapping shared by the store's queries, so every query reads
// chains, attempts and pods the same way. Times travel as epoch microseconds.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/lifecycle/task_events.h"
#include "scheduler/store/rows.h"

namespace hai::store {

// "c.chain_id, c.name, ..." with times converted to epoch microseconds.
extern const char* const kChainColumns;
// "a.attempt_id, ..." likewise.
extern const char* const kAttemptColumns;

// "SELECT uid, user_name, role, active, groups FROM users ..." up to WHERE; append a WHERE
// clause and "GROUP BY u.uid".
extern const char* const kUserSelect;
User UserFromRow(const pqxx::row& r);

ChainRow ChainFromRow(const pqxx::row& r);
AttemptRow AttemptFromRow(const pqxx::row& r);

// Column numbers of kChainColumns / kAttemptColumns in one result, found once from its
// first row. Reading a field by name scans the result's column names each time; over 100,000
// open attempts that scan was most of haid's start-up load.
struct ChainColumns {
  explicit ChainColumns(const pqxx::row& first);
  pqxx::row::size_type chain_id, name, user_name, kind, node_group, priority, nodes, gpus_per_node,
      entrypoint, args, workdir, env, image, environment, first_submit_us, whole_life_state,
      final_state, chain_exit_code, stop_requested, hold, finished_us, time_limit_s;
};
struct AttemptColumns {
  explicit AttemptColumns(const pqxx::row& first);
  pqxx::row::size_type attempt_id, a_chain_id, attempt_no, state, tier, queued_us,
      scheduled_us, started_us, ended_us, end_reason, exit_code, manager_pid, manager_host,
      heartbeat_us, suspend_us, suspend_reason, go_suspend_us, stop_us;
};
ChainRow ChainFromRow(const pqxx::row& r, const ChainColumns& c);
AttemptRow AttemptFromRow(const pqxx::row& r, const AttemptColumns& c);
PodRow PodFromRow(const pqxx::row& r);

// Postgres array literal of ids/ints, e.g. "{1,2,3}".
std::string ArrayLiteral(const std::vector<int64_t>& ids);
std::string ArrayLiteral(const std::vector<int>& values);
std::vector<int> ParseIntArray(const std::string& literal);

// Loads pods of the given attempts and attaches them (sorted by rank).
void AttachPods(pqxx::transaction_base& tx, std::vector<AttemptRow*> attempts);

// Prepared statements of the hot paths outside task_store.cc (registered by Store's
// constructor): authentication (admin_store.cc) and the change reads (open_attempt_store.cc).
extern const char kAuthenticateStatement[];
std::string AuthenticateSql();
class ConnectionPool;
void PrepareOpenAttemptStatements(ConnectionPool& pool);

// task_events rows are appended by the one shared writer (common/lifecycle/task_events.h).
using lifecycle::AddEvent;

}  // namespace hai::store
