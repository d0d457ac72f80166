// core/cpu_threads.h.
#include "core/cpu_threads.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "core/error.h"

#if defined(MRBM_HAVE_OPENBLAS)
#include <cblas.h>  // OpenBLAS's: declares openblas_set_num_threads
#endif

namespace mrbm {
namespace {

std::atomic<int> g_threads{0};  // 0: not set, use the hardware's count

}  // namespace

int cpu_threads() {
  const int set = g_threads.load(std::memory_order_relaxed);
  if (set > 0) return set;
  return std::max(1u, std::thread::hardware_concurrency());
}

void set_cpu_threads(int n) {
  n = std::max(1, n);
  g_threads.store(n, std::memory_order_relaxed);
#if defined(MRBM_HAVE_OPENBLAS)
  openblas_set_num_threads(n);
#endif
}

void parallel_for(int64_t n, int64_t min_part, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t parts =
      std::max<int64_t>(1, std::min<int64_t>(cpu_threads(), n / std::max<int64_t>(1, min_part)));
  if (parts == 1) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(parts - 1));
  for (int64_t p = 0; p + 1 < parts; ++p) {
    workers.emplace_back([&fn, n, p, parts] { fn(n * p / parts, n * (p + 1) / parts); });
  }
  fn(n * (parts - 1) / parts, n);
  for (auto& w : workers) w.join();
}

void parallel_for_kernel(int64_t n, int64_t min_part,
                         const std::function<kernels::Status(int64_t, int64_t)>& fn) {
  std::atomic<int> first_error{static_cast<int>(kernels::Status::kOk)};
  parallel_for(n, min_part, [&](int64_t begin, int64_t end) {
    const kernels::Status status = fn(begin, end);
    int expected = static_cast<int>(kernels::Status::kOk);
    if (status != kernels::Status::kOk)
      first_error.compare_exchange_strong(expected, static_cast<int>(status));
  });
  MRBM_KERNEL_CHECK(static_cast<kernels::Status>(first_error.load()));
}

}  // namespace mrbm
