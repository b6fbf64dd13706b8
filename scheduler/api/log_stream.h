// Reads rank log files written by the managers
// (<data_dir>/logs/<chain>/<attempt_no>/rank-<N>.log) incrementally, in whole lines, so
// StreamLogs can send what is there and, when following, what arrives later.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hai::api {

struct LogPiece {
  int attempt_no = 0;
  int rank = 0;
  std::string text;  // whole lines
};

class LogFollower {
 public:
  // rank < 0: every rank.
  LogFollower(std::string chain_log_dir, int rank) : dir_(std::move(chain_log_dir)), rank_(rank) {}
  // New whole lines of the attempt since the last call (all ranks found on disk, rank order).
  // At `final_read`, a trailing partial line is returned too.
  std::vector<LogPiece> Read(int attempt_no, bool final_read);

 private:
  std::string dir_;
  int rank_;
  std::map<std::pair<int, int>, int64_t> offsets_;  // (attempt, rank) -> bytes consumed
};

}  // namespace hai::api
