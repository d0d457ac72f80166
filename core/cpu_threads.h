// How many threads mrbm's own CPU loops use (the multinary passes of autodiff/ops_multinary.cpp),
// and a parallel loop over contiguous ranges. OpenBLAS has its own thread count; set_cpu_threads
// sets both, so `--threads 1` means one thread everywhere.
#pragma once

#include <cstdint>
#include <functional>

#include "kernels/status.h"

namespace mrbm {

// Threads for mrbm's CPU loops: std::thread::hardware_concurrency() until set (at least 1).
int cpu_threads();

// Sets mrbm's CPU loops and OpenBLAS (when linked) to n >= 1 threads.
void set_cpu_threads(int n);

// Calls fn(begin, end) on contiguous parts of [0, n), at most cpu_threads() parts of at least
// min_part items each (fewer parts when n is small); the calling thread runs the last part, the
// others run on short-lived threads (starting one costs ~20 us, so min_part should keep a part at
// ~100 us of work or more). Returns after every part is done; fn must not throw.
void parallel_for(int64_t n, int64_t min_part, const std::function<void(int64_t, int64_t)>& fn);

// parallel_for over parts that each run a CPU kernel: throws (MRBM_KERNEL_CHECK) with the first
// non-OK status of any part, after all parts are done.
void parallel_for_kernel(int64_t n, int64_t min_part,
                         const std::function<kernels::Status(int64_t, int64_t)>& fn);

}  // namespace mrbm
