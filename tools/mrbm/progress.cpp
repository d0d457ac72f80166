// Progress line (tools/mrbm/progress.h).
#include "tools/mrbm/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace mrbm::tools {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::start_at(int64_t done) {
  base_ = done;
  done_ = done;
  last_decile_ = total_ > 0 ? static_cast<int>(10 * done / total_) : -1;
}

void Progress::update(int64_t done, const std::string& status) {
  done_ = done;
  status_ = status;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ >= std::chrono::milliseconds(100)) {
      last_draw_ = now;
      draw(false);
    }
    return;
  }
  const int decile = total_ > 0 ? static_cast<int>(10 * done_ / total_) : -1;
  if (decile > last_decile_ && decile < 10) {
    last_decile_ = decile;
    draw(false);
  }
}

void Progress::finish(const std::string& status) {
  if (!status.empty()) status_ = status;
  draw(true);
}

void Progress::draw(bool final_line) {
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? (done_ - base_) / elapsed : 0;
  std::string bar;
  if (total_ > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * std::min<int64_t>(done_, total_) / total_);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  const double eta = (total_ > 0 && rate > 0) ? (total_ - done_) / rate : NAN;
  char line[512];
  std::snprintf(line, sizeof line, "%s %s%lld/%lld %s, %.1f %s/s, %s elapsed, ETA %s%s%s",
                label_.c_str(), bar.c_str(), static_cast<long long>(done_),
                static_cast<long long>(total_), unit_.c_str(), rate, unit_.c_str(),
                format_duration(elapsed).c_str(), final_line ? "0:00" : format_duration(eta).c_str(),
                status_.empty() ? "" : "  ", status_.c_str());
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line, final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

}  // namespace mrbm::tools
