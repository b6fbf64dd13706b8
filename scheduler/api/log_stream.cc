// Chunked, symlink-refusing rank log reads and the follow limiter; see log_stream.h.
#include "scheduler/api/log_stream.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/log.h"

namespace hai::api {
namespace {

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// A directory below `dirfd`, not through a symlink.
Fd OpenDirAt(int dirfd, const std::string& name) {
  return Fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// The rank numbers of the "rank-<N>.log" entries of an open directory.
std::vector<int> ListRanks(int dirfd) {
  std::vector<int> ranks;
  const int copy = ::dup(dirfd);
  if (copy < 0) return ranks;
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    ::close(copy);
    return ranks;
  }
  while (const dirent* e = ::readdir(dir)) {
    absl::string_view name(e->d_name);
    int rank = 0;
    if (absl::ConsumePrefix(&name, "rank-") && absl::ConsumeSuffix(&name, ".log") &&
        !name.empty() && std::all_of(name.begin(), name.end(), ::isdigit) &&
        absl::SimpleAtoi(name, &rank)) {
      ranks.push_back(rank);
    }
  }
  ::closedir(dir);
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

}  // namespace

size_t Utf8SafeCut(const char* data, size_t size) {
  // Back over continuation bytes (10xxxxxx) to the last lead byte, at most 3 of them.
  size_t i = size;
  while (i > 0 && size - i < 3 && (static_cast<unsigned char>(data[i - 1]) & 0xC0) == 0x80) --i;
  if (i == 0) return size;
  const unsigned char lead = static_cast<unsigned char>(data[i - 1]);
  size_t len = 1;
  if ((lead & 0xE0) == 0xC0) {
    len = 2;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4;
  }
  const size_t start = i - 1;
  if (start + len > size && start > 0) return start;  // incomplete character: leave it
  return size;
}

LogFollower::LogFollower(std::string log_dir, int64_t chain_id, int rank, size_t chunk_bytes)
    : log_dir_(std::move(log_dir)),
      chain_id_(chain_id),
      rank_(rank),
      chunk_bytes_(std::max<size_t>(chunk_bytes, 4)) {}

bool LogFollower::Read(int attempt_no, bool final_read,
                       const std::function<bool(LogPiece&&)>& sink) {
  // The log dir itself is the operator's; below it nothing is followed through a link.
  Fd root(::open(log_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return true;
  Fd chain = OpenDirAt(root.get(), absl::StrCat(chain_id_));
  if (!chain.ok()) return true;
  Fd attempt = OpenDirAt(chain.get(), absl::StrCat(attempt_no));
  if (!attempt.ok()) return true;
  for (int rank : ListRanks(attempt.get())) {
    if (rank_ >= 0 && rank != rank_) continue;
    const std::string name = absl::StrCat("rank-", rank, ".log");
    // O_NONBLOCK: a FIFO planted here must not block the open.
    Fd file(::openat(attempt.get(), name.c_str(),
                     O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    struct stat st;
    if (!file.ok() || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
      HAI_LOG(WARNING) << "log of chain " << chain_id_ << " attempt " << attempt_no << ": " << name
                       << " is not a regular file of its own (symlink, link or special "
                       << "file): not read";
      continue;
    }
    if (tail_bytes_ > 0 && offsets_.find({attempt_no, rank}) == offsets_.end() &&
        st.st_size > tail_bytes_) {
      // A tail: start after the first line end past size - tail_bytes_ (within a line's
      // worth; a longer line is shown from where the tail begins).
      int64_t start = st.st_size - tail_bytes_;
      char probe[4096];
      const ssize_t n = ::pread(file.get(), probe, sizeof(probe), start);
      const void* nl = n > 0 ? std::memchr(probe, '\n', static_cast<size_t>(n)) : nullptr;
      if (nl != nullptr) start += static_cast<const char*>(nl) - probe + 1;
      offsets_[{attempt_no, rank}] = start;
    }
    if (!ReadFile(file.get(), attempt_no, rank, final_read, sink)) return false;
  }
  return true;
}

bool LogFollower::ReadFile(int fd, int attempt_no, int rank, bool final_read,
                           const std::function<bool(LogPiece&&)>& sink) {
  int64_t& offset = offsets_[{attempt_no, rank}];
  buffer_.resize(chunk_bytes_);
  while (true) {
    ssize_t n;
    do {
      n = ::pread(fd, buffer_.data(), chunk_bytes_, offset);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return true;
    const size_t got = static_cast<size_t>(n);
    const bool full = got == chunk_bytes_;  // more may follow in the file
    size_t take = got;
    bool add_newline = false;
    if (full || !final_read) {
      const size_t nl = std::string_view(buffer_.data(), got).rfind('\n');
      if (nl != std::string_view::npos) {
        take = nl + 1;
      } else if (full) {
        take = Utf8SafeCut(buffer_.data(), got);  // a line longer than a chunk: cut it
      } else {
        return true;  // a partial line: wait for its end
      }
    } else {
      add_newline = buffer_[got - 1] != '\n';
    }
    LogPiece piece{attempt_no, rank, std::string(buffer_.data(), take)};
    if (add_newline) piece.text.push_back('\n');
    offset += static_cast<int64_t>(take);
    if (!sink(std::move(piece))) return false;
    if (!full) return true;
  }
}

absl::Status FollowLimiter::Acquire(const std::string& user, std::optional<Slot>* slot) {
  absl::MutexLock lock(&mu_);
  int& mine = by_user_[user];
  if (mine >= per_user_) {
    if (mine == 0) by_user_.erase(user);
    return absl::ResourceExhaustedError(absl::StrCat(
        "user ", user, " already follows ", mine, " logs (grpc.max_follows_per_user = ", per_user_,
        "): end one (Ctrl-C) or read without -f"));
  }
  if (total_active_ >= total_) {
    if (mine == 0) by_user_.erase(user);
    return absl::ResourceExhaustedError(absl::StrCat("haid already serves ", total_active_,
                                                     " log follows (grpc.max_follows = ", total_,
                                                     "): try again later or read without -f"));
  }
  ++mine;
  ++total_active_;
  slot->emplace(Slot(this, user));
  return absl::OkStatus();
}

void FollowLimiter::Release(const std::string& user) {
  absl::MutexLock lock(&mu_);
  auto it = by_user_.find(user);
  if (it != by_user_.end() && --it->second <= 0) by_user_.erase(it);
  --total_active_;
}

int FollowLimiter::active(const std::string& user) const {
  absl::MutexLock lock(&mu_);
  auto it = by_user_.find(user);
  return it == by_user_.end() ? 0 : it->second;
}

int FollowLimiter::active_total() const {
  absl::MutexLock lock(&mu_);
  return total_active_;
}

}  // namespace hai::api
