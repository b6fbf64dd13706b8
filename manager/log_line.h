// Rank log lines: "2024-05-01T12:00:00.123Z [out] text". haid's log streaming and
// `hai-cli logs` parse this exact shape (timestamp, stream tag, text), so it lives in one place.
// LineSplitter turns arbitrary pipe reads into whole lines, so the log file only ever grows by
// complete lines and a tail -f reader never sees half a line.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace hai::manager {

enum class LogStream { kOut, kErr };

// Formats one log line, including the trailing '\n'. `text` must not contain '\n'; a
// trailing '\r' (CRLF output) is dropped.
std::string FormatLogLine(absl::Time at, LogStream stream, const std::string& text);

// The longest rank log line: longer output (tqdm's '\r' progress never ends a line) is cut
// into lines of this size, by every runtime, so no reader holds more of one line.
inline constexpr size_t kMaxLogLineBytes = 64 * 1024;

// Accumulates bytes and yields complete lines (without '\n'). Lines longer than
// `max_line_bytes` are cut into pieces of that size so a process writing without newlines
// cannot grow the buffer without bound.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line_bytes = kMaxLogLineBytes) : max_(max_line_bytes) {}
  // Appends `data` and returns the lines it completed.
  std::vector<std::string> Feed(const char* data, size_t size);
  // Returns the pending partial line (if any) as a final line and clears it.
  std::vector<std::string> Flush();

 private:
  size_t max_;
  std::string partial_;
};

}  // namespace hai::manager
