#include "scheduler/api/log_stream.h"

#include <filesystem>
#include <fstream>
#include <regex>

#include "absl/strings/str_cat.h"

namespace hai::api {

std::vector<LogPiece> LogFollower::Read(int attempt_no, bool final_read) {
  namespace fs = std::filesystem;
  std::vector<LogPiece> out;
  const fs::path dir = absl::StrCat(dir_, "/", attempt_no);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<int> ranks;
  static const std::regex kRankFile("rank-([0-9]+)\\.log");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, kRankFile)) ranks.push_back(std::stoi(m[1]));
  }
  std::sort(ranks.begin(), ranks.end());
  for (int rank : ranks) {
    if (rank_ >= 0 && rank != rank_) continue;
    int64_t& offset = offsets_[{attempt_no, rank}];
    std::ifstream in(dir / absl::StrCat("rank-", rank, ".log"), std::ios::binary);
    if (!in) continue;
    in.seekg(offset);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.empty()) continue;
    size_t end = final_read ? data.size() : data.rfind('\n');
    if (end == std::string::npos) continue;  // no whole line yet
    if (!final_read) ++end;
    std::string text = data.substr(0, end);
    offset += static_cast<int64_t>(end);
    if (final_read && !text.empty() && text.back() != '\n') text.push_back('\n');
    out.push_back({attempt_no, rank, std::move(text)});
  }
  return out;
}

}  // namespace hai::api
