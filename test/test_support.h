// Helpers shared by the tests: the CUDA skip guard, seeded random inputs, NaN poisoning.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace mrbm::test {

// Number of usable CUDA devices; 0 in a CPU-only build or without a driver. cudaGetDeviceCount
// returns an error (35, insufficient driver) and leaves the count unset when there is no driver,
// so the count starts at 0 and the sticky error is cleared.
inline int cuda_device_count() {
#if defined(MRBM_WITH_CUDA)
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
#else
  return 0;
#endif
}

// True in the CUDA simulator build (docs/building.md, "The CUDA simulator"). There every CUDA
// thread is a fiber and every CPU reference runs under AddressSanitizer, about 100x slower than a
// GPU's whole launch, so a [cuda] test keeps its structural cases (empty, one element, partial and
// several blocks, odd shapes, both devices, the grid-stride wrap where a test names it) and leaves
// its GPU-scale sizes, which test throughput-sized inputs rather than another code path, to real
// GPUs: `if (gpu_scale_cases()) cases.push_back(...)`.
#if defined(MRBM_CUDA_SIMULATOR)
inline constexpr bool kSimulatedCuda = true;
#else
inline constexpr bool kSimulatedCuda = false;
#endif
inline constexpr bool gpu_scale_cases() { return !kSimulatedCuda; }

}  // namespace mrbm::test

// First statement of every [cuda] test: without a device the test prints the skip marker that
// CTest's SKIP_REGULAR_EXPRESSION turns into "Skipped", and returns.
#define MRBM_REQUIRE_CUDA_DEVICE()                                                    \
  do {                                                                                \
    if (::mrbm::test::cuda_device_count() == 0) {                                     \
      std::printf("MRBM_SKIP: no usable CUDA device (or a CPU-only build)\n");        \
      return;                                                                         \
    }                                                                                 \
  } while (0)

namespace mrbm::test {

inline std::vector<float> random_floats(int64_t n, float lo, float hi, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

inline std::vector<float> poisoned(int64_t n) {
  return std::vector<float>(static_cast<size_t>(n), std::numeric_limits<float>::quiet_NaN());
}

// Bitwise equality of two floats, NaNs included (a NaN equals only a NaN).
inline bool same_bits(float a, float b) {
  if (a != a || b != b) return a != a && b != b;
  uint32_t ua, ub;
  std::memcpy(&ua, &a, sizeof ua);
  std::memcpy(&ub, &b, sizeof ub);
  return ua == ub;
}

// A fresh folder under the system's temporary folder, removed with its content at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("mrbm-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// The message of the exception of type E that f throws; the test fails when f throws nothing or
// another type.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  FAIL("no exception thrown");
  return {};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

}  // namespace mrbm::test
