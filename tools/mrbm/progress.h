// A progress line on stderr for long work: a bar, the count, the rate, the elapsed time and the ETA,
// plus a caller-supplied status (e.g. the current losses). On a terminal the line is redrawn in
// place at most 10 times a second; otherwise (logs, CI) a plain line is printed at every 10% step,
// so captured output stays short.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mrbm::tools {

class Progress {
 public:
  // `unit` names what is counted ("img"); `total` may be 0 when unknown.
  Progress(std::string label, int64_t total, std::string unit);
  // The count already done when this process started (a resumed epoch): the rate and the ETA
  // count only what is done from here on.
  void start_at(int64_t done);
  // The total once it is known (0 at construction).
  void set_total(int64_t total) { total_ = total; }
  // Sets the absolute count and the status text; redraws when due.
  void update(int64_t done, const std::string& status = {});
  // Prints the final line (with a newline) and the total time.
  void finish(const std::string& status = {});
  double elapsed_seconds() const;

 private:
  void draw(bool final_line);

  std::string label_, unit_, status_;
  int64_t total_ = 0, done_ = 0, base_ = 0;
  int last_decile_ = -1;
  bool tty_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:02:03", "4:05" from seconds.
std::string format_duration(double seconds);

}  // namespace mrbm::tools
