#include "common/pg.h"

#include "absl/strings/str_cat.h"

namespace hai::pg {

absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url) {
  try {
    return std::make_unique<pqxx::connection>(url);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot connect to Postgres: ", e.what()));
  }
}

absl::Status FromException(const std::exception& e, const std::string& context) {
  const std::string msg = absl::StrCat(context, ": ", e.what());
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(msg);
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError(msg);
  }
  if (dynamic_cast<const pqxx::check_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::not_null_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::foreign_key_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::data_exception*>(&e) != nullptr) {
    return absl::InvalidArgumentError(msg);
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return absl::AbortedError(msg);
  }
  return absl::InternalError(msg);
}

void LockChainOfAttempt(pqxx::work& tx, int64_t attempt_id) {
  tx.exec_params(
      "SELECT 1 FROM chains WHERE chain_id = "
      "(SELECT chain_id FROM attempts WHERE attempt_id = $1) FOR UPDATE",
      attempt_id);
}

}  // namespace hai::pg
