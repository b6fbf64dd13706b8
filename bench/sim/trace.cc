// Trace and cluster file readers (see trace.h).
#include "bench/sim/trace.h"

#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include "absl/strings/string_view.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "toml++/toml.h"

namespace hai::sim {
namespace {

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return lines;
}

// Column name -> index, from a header line.
struct Header {
  std::map<std::string, size_t> index;

  std::optional<size_t> Find(absl::string_view name) const {
    auto it = index.find(std::string(name));
    if (it == index.end()) return std::nullopt;
    return it->second;
  }
};

absl::StatusOr<Header> ParseHeader(const std::string& path, const std::string& line) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, SplitCsvLine(line));
  Header h;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name(absl::StripAsciiWhitespace(names[i]));
    if (name.empty()) continue;
    if (!h.index.emplace(name, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":1: column '", name, "' appears twice in the header"));
    }
  }
  return h;
}

std::string Where(const std::string& path, size_t line_no, absl::string_view column) {
  return absl::StrCat(path, ":", line_no, ": column ", column);
}

// A non-negative number of seconds, rounded to whole seconds.
absl::StatusOr<int64_t> ParseSeconds(absl::string_view cell, const std::string& where) {
  double v = 0;
  if (!absl::SimpleAtod(cell, &v) || !std::isfinite(v) || v < 0 || v > 1e15) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", cell, "' is not a non-negative number of seconds"));
  }
  return static_cast<int64_t>(std::llround(v));
}

absl::StatusOr<int> ParseCount(absl::string_view cell, const std::string& where, int min) {
  int v = 0;
  if (!absl::SimpleAtoi(cell, &v) || v < min || v > 1'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", cell, "' is not an integer >= ", min));
  }
  return v;
}

absl::Status CheckGroupName(const std::string& name, const std::string& where) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty group name"));
  if (name.find('-') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": group name '", name,
                     "' contains '-' (quota resources are node-<group>-<TIER>); rename it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<GroupSpec>> LoadClusterCsv(const std::string& path,
                                                      int default_gpus_per_node) {
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadLines(path));
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file"));
  ASSIGN_OR_RETURN(Header h, ParseHeader(path, lines[0]));
  std::optional<size_t> name_col = h.Find("group");
  if (!name_col) name_col = h.Find("vc");
  std::optional<size_t> nodes_col = h.Find("nodes");
  if (!nodes_col) nodes_col = h.Find("node_num");
  const std::optional<size_t> gpus_col = h.Find("gpus_per_node");
  if (!name_col || !nodes_col) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":1: header needs a group (or vc) column and a nodes (or node_num) column"));
  }
  std::vector<GroupSpec> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (absl::StripAsciiWhitespace(lines[i]).empty()) continue;
    ASSIGN_OR_RETURN(std::vector<std::string> cells, SplitCsvLine(lines[i]));
    auto cell = [&](std::optional<size_t> c) -> std::string {
      if (!c || *c >= cells.size()) return "";
      return std::string(absl::StripAsciiWhitespace(cells[*c]));
    };
    GroupSpec g;
    g.name = cell(name_col);
    RETURN_IF_ERROR(CheckGroupName(g.name, Where(path, i + 1, "group")));
    ASSIGN_OR_RETURN(g.nodes, ParseCount(cell(nodes_col), Where(path, i + 1, "nodes"), 1));
    const std::string gpus = cell(gpus_col);
    if (gpus.empty()) {
      g.gpus_per_node = default_gpus_per_node;
    } else {
      ASSIGN_OR_RETURN(g.gpus_per_node, ParseCount(gpus, Where(path, i + 1, "gpus_per_node"), 1));
    }
    out.push_back(std::move(g));
  }
  return out;
}

absl::StatusOr<std::vector<GroupSpec>> LoadClusterToml(const std::string& path,
                                                       int default_gpus_per_node) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.source().begin.line, ": ", std::string(e.description())));
  }
  const toml::array* groups = root["group"].as_array();
  if (groups == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": needs [[group]] tables"));
  }
  std::vector<GroupSpec> out;
  for (size_t i = 0; i < groups->size(); ++i) {
    const toml::table* t = (*groups)[i].as_table();
    const std::string where = absl::StrCat(path, ": group #", i + 1);
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat(where, " is not a table"));
    for (const auto& [key, value] : *t) {
      if (key != "name" && key != "nodes" && key != "gpus_per_node") {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": unknown key '", std::string(key.str()), "' (name, nodes, gpus_per_node)"));
      }
    }
    GroupSpec g;
    g.name = (*t)["name"].value_or(std::string());
    RETURN_IF_ERROR(CheckGroupName(g.name, where));
    const std::optional<int64_t> nodes = (*t)["nodes"].value<int64_t>();
    if (!nodes || *nodes < 1 || *nodes > 1'000'000) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": nodes must be an integer >= 1"));
    }
    g.nodes = static_cast<int>(*nodes);
    const std::optional<int64_t> gpus = (*t)["gpus_per_node"].value<int64_t>();
    if ((*t).contains("gpus_per_node") && (!gpus || *gpus < 1 || *gpus > 64)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": gpus_per_node must be an integer in [1, 64]"));
    }
    g.gpus_per_node = gpus ? static_cast<int>(*gpus) : default_gpus_per_node;
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  bool was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur.push_back(c);
    }
  }
  if (quoted) return absl::InvalidArgumentError("unterminated quoted field");
  out.push_back(std::move(cur));
  return out;
}

absl::StatusOr<std::vector<TraceJob>> LoadTrace(const std::string& path,
                                                const TraceOptions& options) {
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadLines(path));
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file"));
  ASSIGN_OR_RETURN(Header h, ParseHeader(path, lines[0]));
  auto required = [&](absl::string_view name) -> absl::StatusOr<size_t> {
    std::optional<size_t> c = h.Find(name);
    if (!c) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":1: header has no '", name, "' column"));
    }
    return *c;
  };
  ASSIGN_OR_RETURN(const size_t id_col, required("job_id"));
  ASSIGN_OR_RETURN(const size_t submit_col, required("submit_time_s"));
  ASSIGN_OR_RETURN(const size_t duration_col, required("duration_s"));
  ASSIGN_OR_RETURN(const size_t gpus_col, required("num_gpus"));
  size_t group_col = 0;
  std::string group_name = options.group_column;
  if (group_name.empty()) {
    group_name = h.Find("group") ? "group" : "vc";
  }
  ASSIGN_OR_RETURN(group_col, required(group_name));
  std::optional<size_t> tier_col;
  if (!options.tier_column.empty()) {
    ASSIGN_OR_RETURN(tier_col, required(options.tier_column));
  }
  const std::optional<size_t> user_col = h.Find("user");
  const std::optional<size_t> nodes_col = h.Find("num_nodes");
  const std::optional<size_t> limit_col = h.Find("time_limit_s");

  std::vector<TraceJob> jobs;
  jobs.reserve(lines.size());
  std::set<std::string> ids;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (absl::StripAsciiWhitespace(lines[i]).empty()) continue;
    const size_t line_no = i + 1;
    absl::StatusOr<std::vector<std::string>> split = SplitCsvLine(lines[i]);
    if (!split.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": ", split.status().message()));
    }
    const std::vector<std::string>& cells = *split;
    auto cell = [&](std::optional<size_t> c) -> std::string {
      if (!c || *c >= cells.size()) return "";
      return std::string(absl::StripAsciiWhitespace(cells[*c]));
    };
    TraceJob j;
    j.id = cell(id_col);
    if (j.id.empty()) j.id = absl::StrCat("line-", line_no);
    if (!ids.insert(j.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, line_no, "job_id"), ": duplicate job id '", j.id, "'"));
    }
    j.user = cell(user_col);
    if (j.user.empty()) j.user = options.default_user;
    j.group = cell(group_col);
    if (j.group.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Where(path, line_no, group_name), ": empty"));
    }
    ASSIGN_OR_RETURN(j.submit_s,
                     ParseSeconds(cell(submit_col), Where(path, line_no, "submit_time_s")));
    ASSIGN_OR_RETURN(j.duration_s,
                     ParseSeconds(cell(duration_col), Where(path, line_no, "duration_s")));
    ASSIGN_OR_RETURN(j.gpus, ParseCount(cell(gpus_col), Where(path, line_no, "num_gpus"), 1));
    const std::string nodes = cell(nodes_col);
    if (!nodes.empty()) {
      ASSIGN_OR_RETURN(j.nodes, ParseCount(nodes, Where(path, line_no, "num_nodes"), 1));
    }
    const std::string limit = cell(limit_col);
    if (!limit.empty()) {
      ASSIGN_OR_RETURN(j.time_limit_s, ParseSeconds(limit, Where(path, line_no, "time_limit_s")));
    }
    j.tier = cell(tier_col);
    jobs.push_back(std::move(j));
  }
  return jobs;
}

absl::StatusOr<std::vector<GroupSpec>> LoadCluster(const std::string& path,
                                                   int default_gpus_per_node) {
  if (default_gpus_per_node < 1 || default_gpus_per_node > 64) {
    return absl::InvalidArgumentError("gpus per node must be in [1, 64]");
  }
  absl::StatusOr<std::vector<GroupSpec>> groups = absl::EndsWith(path, ".toml")
                                                      ? LoadClusterToml(path, default_gpus_per_node)
                                                      : LoadClusterCsv(path, default_gpus_per_node);
  if (!groups.ok()) return groups.status();
  if (groups->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no groups"));
  std::set<std::string> names;
  for (const GroupSpec& g : *groups) {
    if (g.gpus_per_node > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": group ", g.name, ": at most 64 GPUs per node"));
    }
    if (!names.insert(g.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": group ", g.name, " twice"));
    }
  }
  return groups;
}

absl::StatusOr<std::vector<GroupSpec>> ScaleCluster(std::vector<GroupSpec> groups, double scale) {
  if (!(scale > 0 && scale <= 64)) {
    return absl::InvalidArgumentError(absl::StrCat("cluster scale ", scale, " must be in (0, 64]"));
  }
  for (GroupSpec& g : groups) {
    g.nodes = std::max(1, static_cast<int>(std::floor(g.nodes * scale + 0.5)));
  }
  return groups;
}

}  // namespace hai::sim
