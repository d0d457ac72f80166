// The floating-point mode of mrbm's CPU threads (core/cpu_threads.h): every part of a parallel
// loop, on the pool's threads and on the caller's, computes with denormals flushed (FTZ and DAZ on
// x86, FPCR.FZ on arm64), and the caller's own mode is exactly what it was once mrbm returns.
#include <atomic>
#include <cfloat>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "core/cpu_threads.h"
#include "core/gemm.h"
#include "core/tensor.h"
#include "test/test_support.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

using namespace mrbm;

namespace {

struct ThreadCountGuard {
  int saved = cpu_threads();
  ~ThreadCountGuard() { set_cpu_threads(saved); }
};

// What this thread's arithmetic does with denormals, observed, not read from a register: a product
// that underflows (FTZ) and a denormal operand (DAZ, x86; arm64's FZ covers both).
bool flushes_in_arithmetic() {
  volatile float small = 1e-30f, tiny = 1e-40f;  // tiny: denormal
  const float under = small * 1e-10f;            // 1e-40: a denormal result unless flushed
  const float read = tiny * 2.0f;                // a denormal operand unless read as 0
  return under == 0.0f && read == 0.0f;
}

#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kFtzDaz = (1u << 15) | (1u << 6);
// MXCSR without its sticky exception flags (bits 0-5): the mode (FTZ, DAZ, rounding, masks).
unsigned mxcsr_mode() { return _mm_getcsr() & ~0x3fu; }
#endif

// Runs a parallel loop of `parts` parts; true if every part flushed denormals (register and
// arithmetic), with the number of distinct threads that ran parts in *threads.
bool every_part_flushes(int64_t parts, size_t* threads) {
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<int> bad{0};
  parallel_for(parts, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t p = b0; p < b1; ++p) {
      if (!denormals_flushed() || !flushes_in_arithmetic()) ++bad;
      // Enough work that the pool's workers take their parts (not required for the check).
      volatile double sink = 0;
      for (int i = 0; i < 20000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
    }
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
  });
  *threads = ids.size();
  return bad.load() == 0;
}

}  // namespace

TEST_CASE("parallel_for parts flush denormals on every thread, the caller's mode is restored",
          "[core]") {
  ThreadCountGuard guard;
#if defined(__x86_64__) || defined(__i386__)
  const unsigned original = _mm_getcsr();
  for (const bool caller_flushes : {false, true}) {
    // The caller's mode: FTZ/DAZ off (the default of a C++ program), or already on.
    _mm_setcsr(caller_flushes ? (original | kFtzDaz) : (original & ~kFtzDaz));
    for (int threads : {1, 2, 4}) {
      INFO("caller flushes " << caller_flushes << ", threads " << threads);
      set_cpu_threads(threads);
      size_t distinct = 0;
      const unsigned before = mxcsr_mode();
      CHECK(every_part_flushes(8, &distinct));
      // Part p runs on worker p (the pool is idle here): every thread of the pool was checked;
      // with one thread, the serial path on the caller's.
      CHECK(distinct == static_cast<size_t>(threads));
      CHECK(mxcsr_mode() == before);  // every control bit as it was (the flags are status)
      CHECK(flushes_in_arithmetic() == caller_flushes);
    }
  }
  _mm_setcsr(original);
#else
  // arm64 flushes (FPCR.FZ); elsewhere no flush mode is known and the scope is a no-op.
  set_cpu_threads(2);
  const bool before = denormals_flushed();
  size_t distinct = 0;
#if defined(__aarch64__)
  CHECK(every_part_flushes(8, &distinct));
#else
  (void)every_part_flushes(8, &distinct);
#endif
  CHECK(denormals_flushed() == before);
#endif
}

TEST_CASE("a GEMM on the pool leaves the caller's floating-point mode untouched", "[core]") {
  ThreadCountGuard guard;
  set_cpu_threads(2);
  Tensor a = Tensor::full({256, 300}, 0.5, DType::kFloat32, Device::cpu());
  Tensor b = Tensor::full({300, 256}, 2.0, DType::kFloat32, Device::cpu());
  Tensor c = Tensor::empty({256, 256}, DType::kFloat32, Device::cpu());
  const bool before = denormals_flushed();
  gemm(c, a, b, false, false, 1.0, 0.0, nullptr);
  CHECK(denormals_flushed() == before);
  for (float v : c.to_vector<float>()) REQUIRE(v == 300.0f);  // sums of 300 ones: exact
}
