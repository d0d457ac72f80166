// Leveled stderr logging (core/log.h): the level from MRBM_LOG_LEVEL, one locked write per line.
#include "core/log.h"

#include <atomic>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace mrbm {
namespace {

constexpr LogLevel kDefaultLogLevel = LogLevel::kInfo;

void write_line(LogLevel level, const char* text, size_t length) noexcept {
  static std::mutex mutex;
  // Drop one trailing newline so that callers may or may not end their text with one.
  if (length > 0 && text[length - 1] == '\n') --length;
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "mrbm [%s] %.*s\n", log_level_name(level), static_cast<int>(length), text);
  std::fflush(stderr);
}

int initial_level() {
  const char* env = std::getenv("MRBM_LOG_LEVEL");
  if (env == nullptr || *env == '\0') return static_cast<int>(kDefaultLogLevel);
  if (const auto parsed = parse_log_level(env)) return static_cast<int>(*parsed);
  const std::string text = std::string("MRBM_LOG_LEVEL='") + env +
                           "' is not one of error, warn, info, debug, 0..3; using info";
  write_line(LogLevel::kWarn, text.c_str(), text.size());
  return static_cast<int>(kDefaultLogLevel);
}

std::atomic<int>& level_storage() {
  static std::atomic<int> level{initial_level()};
  return level;
}

}  // namespace

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

std::optional<LogLevel> parse_log_level(const std::string& text) {
  std::string lower;
  for (const char c : text)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "error" || lower == "0") return LogLevel::kError;
  if (lower == "warn" || lower == "warning" || lower == "1") return LogLevel::kWarn;
  if (lower == "info" || lower == "2") return LogLevel::kInfo;
  if (lower == "debug" || lower == "3") return LogLevel::kDebug;
  return std::nullopt;
}

LogLevel log_level() {
  return static_cast<LogLevel>(level_storage().load(std::memory_order_relaxed));
}

void set_log_level(LogLevel level) {
  level_storage().store(static_cast<int>(level), std::memory_order_relaxed);
}

void log_message(LogLevel level, const std::string& message) noexcept {
  if (!log_enabled(level)) return;
  write_line(level, message.c_str(), message.size());
}

void logf(LogLevel level, const char* format, ...) noexcept {
  if (!log_enabled(level)) return;
  // Format into a stack buffer first (most lines are short); fall back to a heap buffer.
  char buffer[1024];
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int needed = std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  if (needed < 0) {
    va_end(copy);
    return;
  }
  if (static_cast<size_t>(needed) < sizeof(buffer)) {
    va_end(copy);
    write_line(level, buffer, static_cast<size_t>(needed));
    return;
  }
  try {
    std::string large(static_cast<size_t>(needed) + 1, '\0');
    std::vsnprintf(large.data(), large.size(), format, copy);
    write_line(level, large.c_str(), static_cast<size_t>(needed));
  } catch (...) {
    write_line(level, buffer, sizeof(buffer) - 1);  // out of memory: the truncated line
  }
  va_end(copy);
}

}  // namespace mrbm
