// How many threads mrbm's CPU loops use (GEMMs, im2col/col2im, the multinary passes), and a
// parallel loop over contiguous ranges on one persistent pool. OpenBLAS runs on one thread: core/
// gemm.cpp splits each product over this pool instead, so that no second set of threads competes
// with mrbm's loops for the cores (core/cpu_threads.cpp says what that cost).
#pragma once

#include <cstdint>
#include <functional>

#include "kernels/status.h"

namespace mrbm {

// The CPUs this process may run on: its affinity mask (taskset, a container's cpuset), else
// std::thread::hardware_concurrency(), which counts every online CPU; at least 1. A process pinned
// to one core of two with 2 threads would time-slice them on that core, and mrbm's pool spins.
int available_cpus();

// Threads for mrbm's CPU loops: available_cpus() until set (at least 1).
int cpu_threads();

// Sets mrbm's CPU loops (GEMMs included) to n >= 1 threads.
void set_cpu_threads(int n);

// Sets OpenBLAS (when linked) to one thread, once per process; core/gemm.cpp calls it before its
// first product. A program that embeds mrbm and calls OpenBLAS itself gets one OpenBLAS thread too
// (openblas_set_num_threads after mrbm's first GEMM changes it back, at the cost of contention).
void use_one_blas_thread();

// Denormal floats on mrbm's CPU threads. While a DenormalFlushScope lives, this thread computes
// with denormals flushed: x86 MXCSR flush-to-zero (bit 15: a denormal result becomes 0) and
// denormals-are-zero (bit 6: a denormal input reads as 0); arm64 FPCR.FZ (bit 24, both at once).
// The destructor restores the thread's previous mode (on x86 every control bit of MXCSR as it was;
// the sticky exception flags keep what the computation raised), so a program that embeds mrbm
// keeps its own floating-point mode. parallel_for holds one for every loop (the serial path included) and
// Trainer::step one for a whole step; the pool's workers set the bits once and keep them. Why:
// on x86 every operation on a denormal costs ~100 cycles, and they arise in training (tiny
// gradients, Adam's moments, products of small activations): a 1-64-128 conv RBM stepped 8x slower
// (docs/benchmarks.md). Other architectures: no-op. Cost: two control-register accesses (~10 ns).
class DenormalFlushScope {
 public:
  DenormalFlushScope();
  ~DenormalFlushScope();
  DenormalFlushScope(const DenormalFlushScope&) = delete;
  DenormalFlushScope& operator=(const DenormalFlushScope&) = delete;

 private:
  uint64_t saved_ = 0;
  bool changed_ = false;
};

// Whether this thread computes with denormals flushed (x86: both FTZ and DAZ set; arm64: FPCR.FZ;
// elsewhere false). For tests and diagnostics.
bool denormals_flushed();

// Calls fn(begin, end) on contiguous parts of [0, n), at most cpu_threads() parts of at least
// min_part items each (fewer parts when n is small); part p is [n p / parts, n (p + 1) / parts)
// whoever runs it. The calling thread runs part 0, the pool's workers the others (handing a part
// to a spinning worker costs about a microsecond, to a sleeping one 10-50 us: keep parts at ~20 us
// of work or more). Every part runs with denormals flushed (DenormalFlushScope), and the caller's
// floating-point mode is restored before parallel_for returns. Returns after every part is done;
// fn must not throw. Called from inside a part, or while another thread's loop holds the pool, it
// runs the parts on the calling thread.
// The pool's workers are not re-created after fork(): a child process must not run mrbm's CPU
// loops on more than one thread if the parent already had (set_cpu_threads(1) first; the same rule
// as for OpenMP pools).
void parallel_for(int64_t n, int64_t min_part, const std::function<void(int64_t, int64_t)>& fn);

// parallel_for over parts that each run a CPU kernel: throws (MRBM_KERNEL_CHECK) with the first
// non-OK status of any part, after all parts are done.
void parallel_for_kernel(int64_t n, int64_t min_part,
                         const std::function<kernels::Status(int64_t, int64_t)>& fn);

// parallel_for_kernel over `rows` items of `row_elements` elements each, in parts of at least
// kMinPartElements elements: the split used by every element-wise CPU loop of a training step
// (a part of simple work that small costs about what handing it to the pool costs).
constexpr int64_t kMinPartElements = int64_t{1} << 15;
void parallel_rows_kernel(int64_t rows, int64_t row_elements,
                          const std::function<kernels::Status(int64_t, int64_t)>& fn);

}  // namespace mrbm
