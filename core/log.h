// Minimal leveled logging to stderr: error < warn < info < debug.
//
// The level comes from the environment variable MRBM_LOG_LEVEL (error|warn|info|debug or 0..3; read
// once, on first use; default info) and can be changed with set_log_level (the CLI's --log-level).
// Each message is written as one line, "mrbm [warn] text\n", with a single write under a mutex, so
// lines from several threads never interleave. Stream style: MRBM_LOG_WARN("x = " << x) (the
// expression is evaluated only when the level is enabled); printf style:
// mrbm::logf(LogLevel::kInfo, "%d steps", n). Logging never throws (destructors use it).
#pragma once

#include <optional>
#include <sstream>
#include <string>

namespace mrbm {

enum class LogLevel : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn", "info", "debug".
const char* log_level_name(LogLevel level);
// Accepts the names above (and "warning"), case-insensitive, or a digit 0..3; nullopt otherwise.
std::optional<LogLevel> parse_log_level(const std::string& text);

LogLevel log_level();
void set_log_level(LogLevel level);
inline bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= static_cast<int>(log_level());
}

// Writes one line at `level` when enabled. A trailing newline in `message` is not doubled.
void log_message(LogLevel level, const std::string& message) noexcept;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void logf(LogLevel level, const char* format, ...) noexcept;

}  // namespace mrbm

#define MRBM_LOG(level, msg)                          \
  do {                                                \
    if (::mrbm::log_enabled(level)) {                 \
      std::ostringstream mrbm_log_os_;                \
      mrbm_log_os_ << msg;                            \
      ::mrbm::log_message(level, mrbm_log_os_.str()); \
    }                                                 \
  } while (0)

#define MRBM_LOG_ERROR(msg) MRBM_LOG(::mrbm::LogLevel::kError, msg)
#define MRBM_LOG_WARN(msg) MRBM_LOG(::mrbm::LogLevel::kWarn, msg)
#define MRBM_LOG_INFO(msg) MRBM_LOG(::mrbm::LogLevel::kInfo, msg)
#define MRBM_LOG_DEBUG(msg) MRBM_LOG(::mrbm::LogLevel::kDebug, msg)
