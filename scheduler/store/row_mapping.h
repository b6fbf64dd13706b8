// Column lists and row -> struct mapping shared by the store's queries, so every query reads
// chains, attempts and pods the same way. Times travel as epoch microseconds.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

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
PodRow PodFromRow(const pqxx::row& r);

// Postgres array literal of ids/ints, e.g. "{1,2,3}".
std::string ArrayLiteral(const std::vector<int64_t>& ids);
std::string ArrayLiteral(const std::vector<int>& values);
std::vector<int> ParseIntArray(const std::string& literal);

// Loads pods of the given attempts and attaches them (sorted by rank).
void AttachPods(pqxx::transaction_base& tx, std::vector<AttemptRow*> attempts);

// Appends a task_events row.
void AddEvent(pqxx::transaction_base& tx, int64_t chain_id, int64_t attempt_id,
              const std::string& kind, const std::string& actor, const std::string& detail_json);

}  // namespace hai::store
