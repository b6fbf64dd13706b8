// SQL lists of state names (sql_sets.h), built once from the enums and predicates.
#include "common/model/sql_sets.h"

#include "common/model/states.h"

namespace hai::model {
namespace {

// "('a','b')" of every value in `all` for which `keep` holds. Names are fixed lower-case
// words (states.cc), so quoting them needs no escaping.
template <typename Array, typename Pred>
std::string SqlList(const Array& all, Pred keep) {
  std::string out = "(";
  for (auto value : all) {
    if (!keep(value)) continue;
    if (out.size() > 1) out += ",";
    out.append("'").append(Name(value)).append("'");
  }
  return out + ")";
}

}  // namespace

const std::string& OpenAttemptStatesSql() {
  static const std::string* const kSql =
      new std::string(SqlList(kAttemptStates, [](AttemptState s) { return IsOpen(s); }));
  return *kSql;
}

const std::string& HoldingAttemptStatesSql() {
  static const std::string* const kSql =
      new std::string(SqlList(kAttemptStates, [](AttemptState s) { return HoldsNodes(s); }));
  return *kSql;
}

const std::string& LivePodStatesSql() {
  static const std::string* const kSql =
      new std::string(SqlList(kPodStates, [](PodState s) { return IsLive(s); }));
  return *kSql;
}

}  // namespace hai::model
