// hai-sim's quota file reader (see quota_file.h).
#include "bench/sim/quota_file.h"

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/sim/trace.h"

namespace hai::sim {

absl::StatusOr<std::map<policy::QuotaKey, int64_t>> LoadQuota(const std::string& path,
                                                              const std::vector<SimJob>& jobs) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<policy::QuotaRow> rows;
  std::string line;
  int line_no = 0;
  // Whole lines, however long (a fixed buffer would read a long line as two rows).
  while (std::getline(in, line)) {
    ++line_no;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty() || line_no == 1) continue;  // header
    absl::StatusOr<std::vector<std::string>> cells = SplitCsvLine(line);
    int64_t q = 0;
    if (!cells.ok() || cells->size() < 4 || !absl::SimpleAtoi((*cells)[3], &q)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": expected owner_kind,owner,resource,quota (integer quota)"));
    }
    rows.push_back(
        {.owner_kind = (*cells)[0], .owner = (*cells)[1], .resource = (*cells)[2], .quota = q});
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  std::map<std::string, std::vector<std::string>> users;
  for (const SimJob& j : jobs) users[j.user];
  policy::ResolvedQuota resolved = policy::ResolveQuota(rows, users, absl::UnixEpoch());
  if (!resolved.problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": row ", resolved.problems[0].row_index + 1, ": ", resolved.problems[0].message));
  }
  return resolved.quota;
}

}  // namespace hai::sim
