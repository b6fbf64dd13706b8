// Log line shape and pipe-to-line splitting; see log_line.h.
#include "manager/log_line.h"

namespace hai::manager {

std::string FormatLogLine(absl::Time at, LogStream stream, const std::string& text) {
  std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", at, absl::UTCTimeZone());
  line += stream == LogStream::kOut ? " [out] " : " [err] ";
  size_t n = text.size();
  if (n > 0 && text[n - 1] == '\r') --n;
  line.append(text, 0, n);
  line += '\n';
  return line;
}

std::vector<std::string> LineSplitter::Feed(const char* data, size_t size) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      lines.push_back(std::move(partial_));
      partial_.clear();
      continue;
    }
    partial_ += data[i];
    if (partial_.size() >= max_) {
      lines.push_back(std::move(partial_));
      partial_.clear();
    }
  }
  return lines;
}

std::vector<std::string> LineSplitter::Flush() {
  std::vector<std::string> lines;
  if (!partial_.empty()) lines.push_back(std::move(partial_));
  partial_.clear();
  return lines;
}

}  // namespace hai::manager
