#include "common/pg.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hai::pg {
namespace {

bool IsUri(const std::string& url) {
  return absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://");
}

// Whether the url already sets `key`.
bool HasKey(const std::string& url, const std::string& key) {
  if (IsUri(url)) {
    const size_t q = url.find('?');
    if (q == std::string::npos) return false;
    for (absl::string_view kv : absl::StrSplit(url.substr(q + 1), '&')) {
      if (kv.substr(0, kv.find('=')) == key) return true;
    }
    return false;
  }
  // keyword = value pairs separated by whitespace.
  size_t at = 0;
  while ((at = url.find(key, at)) != std::string::npos) {
    const bool starts = at == 0 || std::isspace(static_cast<unsigned char>(url[at - 1]));
    size_t after = at + key.size();
    while (after < url.size() && url[after] == ' ') ++after;
    if (starts && after < url.size() && url[after] == '=') return true;
    at += key.size();
  }
  return false;
}

int64_t WholeSeconds(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Seconds(d + absl::Milliseconds(999)));
}

}  // namespace

std::string WithOptions(const std::string& url, const ConnectOptions& o) {
  std::vector<std::pair<std::string, std::string>> params;
  if (o.connect_timeout > absl::ZeroDuration()) {
    // libpq treats 1 as 2; say what it does.
    params.emplace_back("connect_timeout",
                        absl::StrCat(std::max<int64_t>(2, WholeSeconds(o.connect_timeout))));
  }
  const bool keepalives = o.keepalives_idle > absl::ZeroDuration() ||
                          o.keepalives_interval > absl::ZeroDuration() || o.keepalives_count > 0;
  if (keepalives) {
    params.emplace_back("keepalives", "1");
    if (o.keepalives_idle > absl::ZeroDuration()) {
      params.emplace_back("keepalives_idle", absl::StrCat(WholeSeconds(o.keepalives_idle)));
    }
    if (o.keepalives_interval > absl::ZeroDuration()) {
      params.emplace_back("keepalives_interval", absl::StrCat(WholeSeconds(o.keepalives_interval)));
    }
    if (o.keepalives_count > 0) {
      params.emplace_back("keepalives_count", absl::StrCat(o.keepalives_count));
    }
  }
  const bool uri = IsUri(url);
  if (o.statement_timeout > absl::ZeroDuration()) {
    const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(o.statement_timeout));
    // The value of `options` is "-c statement_timeout=<ms>": percent-encoded in a URI, quoted
    // in a keyword/value string.
    params.emplace_back("options", uri ? absl::StrCat("-c%20statement_timeout%3D", ms)
                                       : absl::StrCat("'-c statement_timeout=", ms, "'"));
  }
  std::string out = url;
  bool has_query = uri && url.find('?') != std::string::npos;
  for (const auto& [key, value] : params) {
    if (HasKey(url, key)) continue;
    if (uri) {
      absl::StrAppend(&out, has_query ? "&" : "?", key, "=", value);
      has_query = true;
    } else {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    }
  }
  return out;
}

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
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
      sql != nullptr && sql->sqlstate() == "57014") {
    // query_canceled: the statement ran past statement_timeout (or was cancelled).
    return absl::DeadlineExceededError(msg);
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
