// Minimal leveled logging to stderr (Debian's abseil predates absl/log).
// Usage: HAI_LOG(INFO) << "started " << n << " tasks";  One line per statement, thread-safe.
#pragma once

#include <sstream>
#include <string_view>

namespace hai {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Process-wide threshold, set once at start-up from config (the only mutable global here).
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug|info|warning|error".
bool ParseLogLevel(std::string_view text, LogLevel* out);
// Name written at the start of each line (e.g. "haid", "hai-manager[42]").
void SetLogProgramName(std::string_view name);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace hai

#define HAI_LOG_LEVEL_DEBUG ::hai::LogLevel::kDebug
#define HAI_LOG_LEVEL_INFO ::hai::LogLevel::kInfo
#define HAI_LOG_LEVEL_WARNING ::hai::LogLevel::kWarning
#define HAI_LOG_LEVEL_ERROR ::hai::LogLevel::kError

#define HAI_LOG(level)                                              \
  if (HAI_LOG_LEVEL_##level < ::hai::GetLogLevel()) {               \
  } else                                                            \
    ::hai::LogMessage(HAI_LOG_LEVEL_##level, __FILE__, __LINE__).stream()
