// core/cpu_threads.h.
//
// One persistent pool for every CPU loop of mrbm, GEMMs included (core/gemm.cpp splits them over
// it and keeps OpenBLAS on one thread). Measured on the 2-core test machine before this pool: with
// OpenBLAS's own threads, its idle worker spins in sched_yield for up to 2^28 cycles after each
// GEMM and fights mrbm's loops for the second core (18% of a demo training step in __schedule); a
// run with OPENBLAS_THREAD_TIMEOUT=4 trained 26% faster. One pool means no such contention.
//
// Protocol: the caller publishes a job (fn, n, parts) and then a new `ticket` = (generation << 8 |
// parts) with release order. Worker w (1 .. size-1) runs part w when w < parts and then counts
// itself into `done_`; the caller runs part 0 and waits until done_ == parts - 1. A worker whose
// index is >= parts never touches the job, so the caller waits only for the workers it uses, and
// the next job is published only after those are done: a late worker cannot see a half-written
// job. Workers spin for kSpin after a job (the next parallel loop of a training step usually
// follows within microseconds), then sleep on a condition variable.
#include "core/cpu_threads.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

#if defined(MRBM_HAVE_OPENBLAS)
#include <cblas.h>  // OpenBLAS's: declares openblas_set_num_threads
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace mrbm {
namespace {

// The thread's flush bits: x86 MXCSR FTZ (bit 15) | DAZ (bit 6), arm64 FPCR.FZ (bit 24).
// kStatusBits: the sticky exception flags (x86 MXCSR bits 0-5), status rather than mode: the
// scope restores the mode and keeps the flags the computation raised, as any function call would.
#if defined(__x86_64__) || defined(__i386__)
constexpr uint64_t kFlushBits = (uint64_t{1} << 15) | (uint64_t{1} << 6);
constexpr uint64_t kStatusBits = 0x3f;
uint64_t read_fp_control() { return _mm_getcsr(); }
void write_fp_control(uint64_t v) { _mm_setcsr(static_cast<unsigned>(v)); }
#elif defined(__aarch64__)
constexpr uint64_t kFlushBits = uint64_t{1} << 24;
constexpr uint64_t kStatusBits = 0;  // FPCR holds no flags (they live in FPSR)
uint64_t read_fp_control() {
  uint64_t v;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
  return v;
}
void write_fp_control(uint64_t v) { __asm__ __volatile__("msr fpcr, %0" : : "r"(v)); }
#else
constexpr uint64_t kFlushBits = 0;
constexpr uint64_t kStatusBits = 0;
uint64_t read_fp_control() { return 0; }
void write_fp_control(uint64_t) {}
#endif

// Sets the flush bits on this thread; returns the previous control word.
uint64_t set_flush_bits() {
  const uint64_t before = read_fp_control();
  if ((before & kFlushBits) != kFlushBits) write_fp_control(before | kFlushBits);
  return before;
}

}  // namespace

DenormalFlushScope::DenormalFlushScope() {
  if (kFlushBits == 0) return;
  saved_ = set_flush_bits();
  changed_ = (saved_ & kFlushBits) != kFlushBits;
}

DenormalFlushScope::~DenormalFlushScope() {
  if (changed_) write_fp_control((read_fp_control() & kStatusBits) | (saved_ & ~kStatusBits));
}

bool denormals_flushed() {
  return kFlushBits != 0 && (read_fp_control() & kFlushBits) == kFlushBits;
}

}  // namespace mrbm

namespace mrbm {
namespace {

std::atomic<int> g_threads{0};  // 0: not set, use the hardware's count

constexpr auto kSpin = std::chrono::microseconds(50);
constexpr uint64_t kPartsBits = 8;  // parts <= 255 per job (more threads run in rounds)
constexpr int kMaxParts = (1 << kPartsBits) - 1;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

thread_local bool t_in_pool_part = false;  // nested parallel_for runs serially

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // Runs fn(part) for part in [0, parts); false if the pool is busy with another caller's job
  // (then the caller runs the parts itself).
  bool run(int parts, const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> submit(submit_mutex_, std::try_to_lock);
    if (!submit.owns_lock()) return false;
    grow(parts - 1);
    job_ = &fn;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t ticket = ((++generation_) << kPartsBits) | static_cast<uint64_t>(parts);
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      ticket_.store(ticket, std::memory_order_release);
    }
    if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
    run_part(fn, 0);
    // The other parts take about as long as ours: spin, yielding the core after a while in case
    // a worker waits for it (more threads than cores).
    for (int i = 1; done_.load(std::memory_order_acquire) != parts - 1; ++i) {
      if (i < 4096) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
    job_ = nullptr;
    return true;
  }

 private:
  static void run_part(const std::function<void(int)>& fn, int part) {
    t_in_pool_part = true;
    fn(part);
    t_in_pool_part = false;
  }

  void grow(int workers) {
    while (static_cast<int>(workers_.size()) < workers) {
      const int index = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, index] { worker_loop(index); });
    }
  }

  // Waits for a job that uses this worker (index < its parts); returns its ticket, or 0 when the
  // pool stops. After a job of its own the worker spins for kSpin before it sleeps.
  uint64_t next_ticket(uint64_t& seen, int index, bool spin) {
    auto mine = [&](uint64_t t) { return t != seen && index < static_cast<int>(t & kMaxParts); };
    if (spin) {
      const auto spin_end = std::chrono::steady_clock::now() + kSpin;
      for (int i = 1;; ++i) {
        const uint64_t t = ticket_.load(std::memory_order_acquire);
        if (mine(t)) return t;
        seen = t;  // a job for fewer threads: not ours
        if (i % 64 == 0 && std::chrono::steady_clock::now() > spin_end) break;
        cpu_relax();
      }
    }
    std::unique_lock<std::mutex> lock(sleep_mutex_);
    sleepers_.fetch_add(1, std::memory_order_acq_rel);
    wake_.wait(lock, [&] { return stopping_ || mine(ticket_.load(std::memory_order_acquire)); });
    sleepers_.fetch_sub(1, std::memory_order_acq_rel);
    return stopping_ ? 0 : ticket_.load(std::memory_order_acquire);
  }

  void worker_loop(int index) {
    set_flush_bits();  // the pool's threads are mrbm's: they keep denormals flushed for good
    uint64_t seen = 0;
    bool spin = false;
    for (;;) {
      const uint64_t ticket = next_ticket(seen, index, spin);
      if (ticket == 0) return;
      seen = ticket;
      run_part(*job_, index);
      done_.fetch_add(1, std::memory_order_release);
      spin = true;
    }
  }

  std::mutex submit_mutex_;  // one job at a time
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> done_{0};
  std::atomic<int> sleepers_{0};
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by sleep_mutex_
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int available_cpus() {
#if defined(__linux__)
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) return std::max(1, CPU_COUNT(&mask));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

int cpu_threads() {
  const int set = g_threads.load(std::memory_order_relaxed);
  if (set > 0) return set;
  return available_cpus();
}

void set_cpu_threads(int n) {
  g_threads.store(std::max(1, n), std::memory_order_relaxed);
  use_one_blas_thread();
}

void use_one_blas_thread() {
#if defined(MRBM_HAVE_OPENBLAS)
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
#endif
}

void parallel_for(int64_t n, int64_t min_part, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const DenormalFlushScope flush;  // the caller's parts too; its own mode is back on return
  const int64_t parts = std::max<int64_t>(
      1, std::min<int64_t>({cpu_threads(), n / std::max<int64_t>(1, min_part), kMaxParts}));
  if (parts == 1) {
    fn(0, n);
    return;
  }
  const std::function<void(int)> part = [&](int p) { fn(n * p / parts, n * (p + 1) / parts); };
  // Inside a part, or while another thread's loop holds the pool: the same parts, on this thread.
  if (t_in_pool_part || !pool().run(static_cast<int>(parts), part)) {
    for (int p = 0; p < parts; ++p) part(p);
  }
}

void parallel_rows_kernel(int64_t rows, int64_t row_elements,
                          const std::function<kernels::Status(int64_t, int64_t)>& fn) {
  const int64_t per_row = std::max<int64_t>(1, row_elements);
  parallel_for_kernel(rows, (kMinPartElements + per_row - 1) / per_row, fn);
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
