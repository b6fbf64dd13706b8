// Pure text helpers of hai-cli; see format.h.
#include "cli/format.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/check.h"
#include "common/model/proto_enums.h"

namespace hai::cli {
namespace {

struct TierEntry {
  int value;
  absl::string_view name;
};

// Highest first, as users think of them; AUTO last because it is a request, not a tier.
constexpr TierEntry kTiers[] = {
    {50, "EXTREME_HIGH"}, {40, "VERY_HIGH"}, {30, "HIGH"}, {20, "ABOVE_NORMAL"},
    {10, "NORMAL"},       {5, "BELOW_NORMAL"}, {0, "LOW"},  {-1, "AUTO"},
};

std::string KnownTierList() {
  std::vector<absl::string_view> names;
  for (const TierEntry& t : kTiers) names.push_back(t.name);
  return absl::StrJoin(names, ", ");
}

}  // namespace

std::string TierName(int tier) {
  for (const TierEntry& t : kTiers) {
    if (t.value == tier) return std::string(t.name);
  }
  return absl::StrCat(tier);
}

absl::StatusOr<std::string> NormalizePriority(absl::string_view text) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (absl::StartsWith(upper, "PRIORITY_")) upper = upper.substr(9);
  int number = 0;
  const bool numeric = absl::SimpleAtoi(upper, &number);
  for (const TierEntry& t : kTiers) {
    if ((numeric && t.value == number) || (!numeric && t.name == upper)) {
      return std::string(t.name);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown priority '", text, "'; use one of ", KnownTierList(),
                   " or its number"));
}

hai::v1::Priority PriorityOf(absl::string_view normalized) {
  absl::StatusOr<int> value =
      model::ParsePriority(std::string_view(normalized.data(), normalized.size()));
  HAI_CHECK(value.ok()) << "not a normalized priority: " << normalized;
  return model::PriorityToProto(*value);
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60, "s");
  if (s < 86400) {
    const int64_t m = (s % 3600) / 60;
    return absl::StrCat(s / 3600, "h", m < 10 ? "0" : "", m, "m");
  }
  return absl::StrCat(s / 86400, "d", (s % 86400) / 3600, "h");
}

std::string FormatAge(absl::Time t, absl::Time now) {
  if (t == absl::InfinitePast()) return "-";
  return HumanDuration(now - t);
}

std::string FormatLocalTime(absl::Time t, absl::TimeZone tz) {
  if (t == absl::InfinitePast()) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, tz);
}

std::string FormatGpuList(const std::vector<int>& gpus) {
  if (gpus.empty()) return "-";
  std::vector<int> sorted = gpus;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    // Two adjacent indices read better as "0,1" than as the range "0-1".
    if (j >= i + 2) {
      parts.push_back(absl::StrCat(sorted[i], "-", sorted[j]));
    } else {
      for (size_t k = i; k <= j; ++k) parts.push_back(absl::StrCat(sorted[k]));
    }
    i = j + 1;
  }
  return absl::StrJoin(parts, ",");
}

std::string ShellQuote(absl::string_view arg) {
  if (arg.empty()) return "''";
  const bool safe = std::all_of(arg.begin(), arg.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           absl::string_view("_-./=:,+@%").find(c) != absl::string_view::npos;
  });
  if (safe) return std::string(arg);
  // Inside single quotes nothing is special except the quote itself: close, escape, reopen.
  return absl::StrCat("'", absl::StrReplaceAll(arg, {{"'", "'\\''"}}), "'");
}

std::string PrefixLines(absl::string_view text, absl::string_view prefix) {
  if (text.empty()) return "";
  std::string out;
  out.reserve(text.size() + prefix.size() * 4);
  bool at_line_start = true;
  for (char c : text) {
    if (at_line_start) out.append(prefix.data(), prefix.size());
    out.push_back(c);
    at_line_start = (c == '\n');
  }
  if (!at_line_start) out.push_back('\n');
  return out;
}

std::string Table::Render(absl::string_view indent) const {
  size_t columns = headers_.size();
  for (const auto& row : rows_) columns = std::max(columns, row.size());
  std::vector<size_t> width(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);

  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line(indent);
    for (size_t c = 0; c < row.size(); ++c) {
      line.append(row[c]);
      if (c + 1 < row.size()) line.append(width[c] - row[c].size() + 2, ' ');
    }
    // Empty trailing cells would otherwise leave padding at the end of the line.
    while (line.size() > indent.size() && line.back() == ' ') line.pop_back();
    out.append(line).push_back('\n');
  };
  if (!headers_.empty()) emit(headers_);
  for (const auto& row : rows_) emit(row);
  return out;
}

}  // namespace hai::cli
