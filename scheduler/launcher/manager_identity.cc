#include "scheduler/launcher/manager_identity.h"

#include <string>
#include <string_view>

#include "absl/strings/match.h"

namespace hai {
namespace {

bool IsManagerCommand(const std::vector<std::string>& argv, int64_t attempt_id) {
  if (argv.empty()) return false;  // kernel threads have no command line
  std::string_view exe = argv[0];
  if (size_t slash = exe.rfind('/'); slash != std::string_view::npos) exe = exe.substr(slash + 1);
  // argv[0] as the launcher gave it: the configured binary, possibly a renamed copy or link.
  if (exe.find("hai-manager") == std::string_view::npos) return false;
  const std::string id = std::to_string(attempt_id);
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--attempt" && i + 1 < argv.size() && argv[i + 1] == id) return true;
    if (argv[i] == "--attempt=" + id) return true;
  }
  return false;
}

}  // namespace

ManagerMatch MatchManager(const proc::Process& p, const RecordedManager& m) {
  switch (p.lookup) {
    case proc::Lookup::kGone: return ManagerMatch::kNotIt;
    case proc::Lookup::kUnknown: return ManagerMatch::kCannotTell;
    case proc::Lookup::kFound: break;
  }
  if (m.start_time.has_value() && *m.start_time != p.stat.start_time) return ManagerMatch::kNotIt;
  return IsManagerCommand(p.argv, m.attempt_id) ? ManagerMatch::kIsIt : ManagerMatch::kNotIt;
}

}  // namespace hai
