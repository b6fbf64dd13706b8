// Pure text helpers of hai-cli: aligned tables, durations and ages, tier names, GPU lists,
// shell quoting, per-rank log prefixes. No I/O and no clock reads (callers pass `now`), so
// everything a user reads can be unit-tested byte for byte.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hai/v1/common.pb.h"

namespace hai::cli {

// Tier number -> name ("HIGH"); AUTO for -1; the bare number for values outside the table, so
// a tier added on the server still prints something truthful. The table mirrors the policy
// library's on purpose: the CLI must not link the scheduler core.
std::string TierName(int tier);

// Accepts a tier name (any case, optional "PRIORITY_" prefix) or a tier number ("30") and
// returns the canonical name the server expects ("HIGH"); InvalidArgument otherwise.
absl::StatusOr<std::string> NormalizePriority(absl::string_view text);
// The API's Priority of a name NormalizePriority returned.
hai::v1::Priority PriorityOf(absl::string_view normalized);

// Compact human duration (named apart from absl::FormatDuration, which ADL would also find): "45s", "3m12s", "2h05m", "3d4h". Negative durations (clock skew
// between client and server) print as "0s" rather than nonsense.
std::string HumanDuration(absl::Duration d);

// Age of `t` at `now` as HumanDuration; "-" when `t` is absl::InfinitePast() (unset).
std::string FormatAge(absl::Time t, absl::Time now);

// Local wall-clock time "2024-05-01 12:03:04"; "-" when unset.
std::string FormatLocalTime(absl::Time t, absl::TimeZone tz);

// GPU indices as ranges: {0,1,2,3,6} -> "0-3,6"; empty -> "-".
std::string FormatGpuList(const std::vector<int>& gpus);

// Quotes an argument for display so that copy-pasting it into a shell gives the same word.
std::string ShellQuote(absl::string_view arg);

// Prefixes every line of `text` with `prefix`; guarantees a trailing newline so lines of
// different ranks never merge.
std::string PrefixLines(absl::string_view text, absl::string_view prefix);

// A left-aligned text table with two-space gutters and no trailing spaces. Widths count
// bytes, which is exact for the ASCII ids, names and states the server produces.
class Table {
 public:
  // Empty `headers` renders a header-less table (used for key/value blocks).
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }

  // Every line is prefixed with `indent` and ends with '\n'.
  std::string Render(absl::string_view indent = "") const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace hai::cli
