// Helpers of the libFuzzer targets (test/fuzz/README in docs/building.md "Fuzzing").
//
// The contract every target asserts: a reader given outside bytes returns a valid object or throws
// a subclass of mrbm::Error. Any other exception (std::bad_alloc, std::length_error,
// nlohmann::json's own, ...) is a finding: expect_contract() prints it and aborts, so that
// libFuzzer saves the input. A crash, a sanitizer report, a timeout (-timeout) and an allocation
// over -malloc_limit_mb are findings too (libFuzzer reports them itself).
//
// Readers that take a path get the input written to a file in a per-process folder under
// $TMPDIR (or /tmp), removed at exit.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <typeinfo>

#include "core/cpu_threads.h"
#include "core/error.h"
#include "core/log.h"

namespace mrbm::fuzz {

// One thread for mrbm's CPU loops, so that thread scheduling is not among the causes that make two
// runs with the same -seed mutate differently (tools/fuzz.sh smoke; libFuzzer's own drift remains).
inline const bool kSingleThreaded = (set_cpu_threads(1), true);

// The per-process scratch folder, created on the first call and removed at exit.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                          "/mrbm-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mrbm fuzz: mkdtemp");
      std::abort();
    }
    static const std::string removed_at_exit = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(removed_at_exit, ec);
    });
    set_log_level(LogLevel::kError);  // the readers' info/warning lines would flood the output
    return pattern;
  }();
  return dir;
}

// Writes data[0, size) to scratch_dir()/name (replacing it) and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror("mrbm fuzz: writing the input file");
    std::abort();
  }
  return path;
}

// A broken contract or a broken invariant of a returned object: report and abort (a finding).
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "mrbm fuzz: CONTRACT VIOLATION: %s\n", what.c_str());
  std::abort();
}

#define MRBM_FUZZ_ASSERT(cond)                                                    \
  do {                                                                            \
    if (!(cond)) ::mrbm::fuzz::fail(std::string("assertion failed: ") + #cond + \
                                    " (" + __FILE__ + ":" + std::to_string(__LINE__) + ")"); \
  } while (0)

// Runs fn(); mrbm::Error is the reader's documented refusal, anything else a finding.
template <class Fn>
void expect_contract(const char* reader, Fn&& fn) {
  try {
    fn();
  } catch (const mrbm::Error&) {
    // a refusal with mrbm's error: the contract holds
  } catch (const std::exception& e) {
    fail(std::string(reader) + " threw a non-mrbm exception (" + typeid(e).name() + "): " + e.what());
  } catch (...) {
    fail(std::string(reader) + " threw something that is not a std::exception");
  }
}

}  // namespace mrbm::fuzz
