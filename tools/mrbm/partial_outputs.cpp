// Partial outputs removed on failure and on signals (tools/mrbm/partial_outputs.h).
#include "tools/mrbm/partial_outputs.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>

namespace mrbm::tools {
namespace {

// A command has a handful of outputs at a time; a path longer than the buffer is not registered
// for the signal handler (the destructor still removes it).
constexpr int kSlots = 8;
constexpr size_t kPathBytes = 4096;

struct Slot {
  std::atomic<bool> used{false};
  char path[kPathBytes];
  int64_t count = -1;  // -1: a file; else a numbered folder of `count` PNGs
  bool remove_folder = false;
};
Slot g_slots[kSlots];

// "dir/000042.png" into buf, by hand (snprintf is not async-signal-safe).
void numbered_path(const char* dir, int64_t index, char* buf, size_t size) {
  size_t n = std::strlen(dir);
  if (n + 16 >= size) {
    buf[0] = '\0';
    return;
  }
  std::memcpy(buf, dir, n);
  buf[n++] = '/';
  char digits[24];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + index % 10);
    index /= 10;
  } while (index > 0 && d < 20);
  for (int pad = d; pad < 6; ++pad) buf[n++] = '0';
  while (d > 0) buf[n++] = digits[--d];
  std::memcpy(buf + n, ".png", 5);
}

void remove_outputs(const char* path, int64_t count, bool remove_folder) {
  if (count < 0) {
    ::unlink(path);
    return;
  }
  char file[kPathBytes + 32];
  for (int64_t i = 0; i < count; ++i) {
    numbered_path(path, i, file, sizeof file);
    ::unlink(file);
  }
  if (remove_folder) ::rmdir(path);  // only when nothing else is in it
}

extern "C" void remove_partial_outputs_and_die(int sig) {
  for (Slot& s : g_slots) {
    if (s.used.load()) remove_outputs(s.path, s.count, s.remove_folder);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

int register_slot(const std::string& path, int64_t count, bool remove_folder) {
  if (path.size() >= kPathBytes) return -1;
  static std::atomic<bool> handlers_installed{false};
  if (!handlers_installed.exchange(true)) {
    std::signal(SIGINT, remove_partial_outputs_and_die);
    std::signal(SIGTERM, remove_partial_outputs_and_die);
  }
  for (int i = 0; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    if (s.used.load()) continue;
    std::memcpy(s.path, path.c_str(), path.size() + 1);
    s.count = count;
    s.remove_folder = remove_folder;
    s.used.store(true);
    return i;
  }
  return -1;
}

}  // namespace

PartialOutput::PartialOutput(std::string path, int64_t count, bool remove_folder)
    : path_(std::move(path)),
      count_(count),
      remove_folder_(remove_folder),
      active_(true),
      slot_(register_slot(path_, count, remove_folder)) {}

PartialOutput PartialOutput::file(const std::string& path) { return PartialOutput(path, -1, false); }

PartialOutput PartialOutput::numbered_folder(const std::string& folder, int64_t count, bool created) {
  return PartialOutput(folder, count, created);
}

PartialOutput::PartialOutput(PartialOutput&& other) noexcept
    : path_(std::move(other.path_)),
      count_(other.count_),
      remove_folder_(other.remove_folder_),
      active_(other.active_),
      slot_(other.slot_) {
  other.active_ = false;
  other.slot_ = -1;
}

PartialOutput::~PartialOutput() {
  if (active_) remove_outputs(path_.c_str(), count_, remove_folder_);
  if (slot_ >= 0) g_slots[slot_].used.store(false);
}

void PartialOutput::commit() {
  active_ = false;
  if (slot_ >= 0) g_slots[slot_].used.store(false);
  slot_ = -1;
}

std::string numbered_png_name(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%06lld.png", static_cast<long long>(index));
  return name;
}

}  // namespace mrbm::tools
