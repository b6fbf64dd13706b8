// Reads rank log files written by the managers
// (<data_dir>/logs/<chain>/<attempt_no>/rank-<N>.log) incrementally, in whole lines, so
// StreamLogs can send what is there and, when following, what arrives later; and limits how
// many follow streams each user (and everyone) holds.
//
// Bounds: a read never holds more than one chunk (grpc.log_chunk_kib) of a file in memory,
// whatever the file's size, so a multi-GB log streams with flat memory and every message
// stays under gRPC's 4 MiB default. Only regular files reached without a symlink are read:
// the chain and attempt directories and the rank files are opened with O_NOFOLLOW relative
// to the log dir, so a link planted there cannot make haid read another file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace hai::api {

inline constexpr size_t kDefaultLogChunkBytes = size_t{1} << 20;

struct LogPiece {
  int attempt_no = 0;
  int rank = 0;
  std::string text;  // whole lines (a line longer than a chunk comes in several pieces)
};

class LogFollower {
 public:
  // Logs of chain `chain_id` under `log_dir`; rank < 0: every rank.
  LogFollower(std::string log_dir, int64_t chain_id, int rank,
              size_t chunk_bytes = kDefaultLogChunkBytes);

  // Hands the attempt's new text since the last call to `sink`, rank by rank (rank order),
  // in pieces of at most chunk_bytes: whole lines, except that a line longer than a chunk is
  // cut (at a UTF-8 character boundary). At `final_read` a trailing partial line is handed
  // too, with a '\n' added. Returns false as soon as `sink` does (the rest stays unread).
  // Rank files that are not regular files, or are reached through a symlink, are skipped.
  bool Read(int attempt_no, bool final_read, const std::function<bool(LogPiece&&)>& sink);

  // Reading a rank file not read before starts at most `bytes` before its end, at the first
  // whole line there (the dashboard's bounded tail); 0 (the default): from its start.
  void SetTail(int64_t bytes) { tail_bytes_ = bytes; }
  // Where reading (attempt, rank) goes on from: a byte offset a caller remembered.
  void StartAt(int attempt_no, int rank, int64_t offset) { offsets_[{attempt_no, rank}] = offset; }
  // Bytes of (attempt, rank) consumed so far (0 when none).
  int64_t Offset(int attempt_no, int rank) const {
    auto it = offsets_.find({attempt_no, rank});
    return it == offsets_.end() ? 0 : it->second;
  }

 private:
  // Streams one open rank file from its offset; false when `sink` stopped.
  bool ReadFile(int fd, int attempt_no, int rank, bool final_read,
                const std::function<bool(LogPiece&&)>& sink);

  std::string log_dir_;
  int64_t chain_id_;
  int rank_;
  size_t chunk_bytes_;
  std::string buffer_;                              // one chunk, reused
  std::map<std::pair<int, int>, int64_t> offsets_;  // (attempt, rank) -> bytes consumed
  int64_t tail_bytes_ = 0;
};

// Where a chunk of `size` bytes may end without splitting a UTF-8 character: `size`, or the
// start of an incomplete multi-byte sequence at its end (never 0 for size > 0).
size_t Utf8SafeCut(const char* data, size_t size);

// Counts concurrent follow streams: at most `per_user` per user and `total` overall
// (thread-safe). Each follow holds a gRPC handler thread, so the caps keep followers from
// taking every thread.
class FollowLimiter {
 public:
  FollowLimiter(int per_user, int total) : per_user_(per_user), total_(total) {}

  // A held follow slot; released when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), user_(std::move(other.user_)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (owner_ != nullptr) owner_->Release(user_);
    }

   private:
    friend class FollowLimiter;
    Slot(FollowLimiter* owner, std::string user) : owner_(owner), user_(std::move(user)) {}
    FollowLimiter* owner_;
    std::string user_;
  };

  // A slot for `user`, or ResourceExhausted naming the limit that was reached.
  absl::Status Acquire(const std::string& user, std::optional<Slot>* slot);

  int active(const std::string& user) const;
  int active_total() const;

 private:
  void Release(const std::string& user);

  const int per_user_;
  const int total_;
  mutable absl::Mutex mu_;
  std::map<std::string, int> by_user_ ABSL_GUARDED_BY(mu_);
  int total_active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hai::api
