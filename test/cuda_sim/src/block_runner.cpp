// CUDA simulator: the block runner. Every CUDA thread of a block is a fiber (fiber.h) with its
// own stack; the runner resumes the runnable ones in a shuffled order, each until it waits
// (__syncthreads, a warp shuffle) or returns. When every thread waits or has returned, the
// runner releases what can be released: a warp group whose lanes all reached their shuffle, or
// the block barrier once every live thread waits there. A barrier that some threads can never
// reach (they returned, or wait elsewhere) is reported as an error, never a hang.
//
// Fibers rather than host threads: the same semantics (a real barrier, a real exchange), but
// deterministic for a given seed and fast enough to run mrbm's whole CUDA test suite.
//
// Under ThreadSanitizer (MRBM_SIM_SANITIZER=thread, which defines CUDA_SIM_TSAN) every slot of
// the thread pool is a TSan fiber, a thread of its own for the race detector, and switches
// between fibers create no happens-before (all fibers run on one host thread: with the default
// synchronizing switch, every race would be hidden). The happens-before edges are the ones CUDA
// gives (tsan_* below): the launch before every thread of the grid, each __syncthreads among the
// threads of its block, and every thread before the host once the grid is done. A warp shuffle
// gives none: CUDA promises memory ordering among a warp's lanes for __syncwarp, not for the
// shuffles, which exchange a value only. Nothing orders two blocks of a grid, so a race between
// blocks (through global memory) is reported too, where the two threads sit in different pool
// slots (the same slot is the same TSan thread). This file is compiled without TSan's
// instrumentation: its bookkeeping passes between the fibers and the scheduler with no
// synchronization TSan could see (by design: one host thread), and is not the kernels' memory.
#include "block_runner.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "cuda_sim/device.h"
#include "fiber.h"
#include "state.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDA_SIM_ASAN 1
#else
#define CUDA_SIM_ASAN 0
#endif

#if defined(CUDA_SIM_TSAN)
#include <sanitizer/tsan_interface.h>
// Not in that header (the Java support of tsan_interface_java.h, which GCC does not install):
// java_alloc resets the shadow state of [ptr, ptr + size) as for a fresh allocation, java_free
// drops the allocation's record and the synchronization objects in it.
extern "C" void __tsan_java_alloc(unsigned long ptr, unsigned long size);
extern "C" void __tsan_java_free(unsigned long ptr, unsigned long size);
#endif

namespace cuda_sim::detail {

uint3 t_thread_idx{0, 0, 0};
uint3 t_block_idx{0, 0, 0};
dim3 t_block_dim{1, 1, 1};
dim3 t_grid_dim{1, 1, 1};

namespace {

constexpr size_t kStackBytes = 256 * 1024;  // sanitizer builds have large frames
constexpr size_t kGuardBytes = 4096;         // PROT_NONE below each stack: overflow crashes
constexpr int kMaxThreads = 1024;

enum class State { kRunnable, kBarrier, kWarp, kExited };

struct SimThread {
  FiberContext ctx;
  char* stack = nullptr;  // lowest usable byte
  State state = State::kRunnable;
  uint3 idx{0, 0, 0};
  int linear = 0;
  const char* file = "";  // where it waits
  int line = 0;
  unsigned mask = 0;       // the mask of the shuffle it waits at
  uint64_t shuffles = 0;   // shuffles done: selects the exchange buffer
  uint64_t slot_gen = 0;   // the exchange it waits at
  uint64_t barriers = 0;   // __syncthreads passed in this block
  void* fake_stack = nullptr;
  void* tsan_fiber = nullptr;  // the slot's TSan thread (CUDA_SIM_TSAN), from its first grid on
};

struct WarpSlots {
  uint64_t value[2][32];
  uint64_t released_gen[32];  // per lane: the exchange its last release was for
};

struct BlockRun {
  SimThread* threads = nullptr;
  int count = 0;
  FiberContext scheduler;
  SimThread* current = nullptr;
  const std::function<void()>* body = nullptr;
  std::string error;
  std::vector<WarpSlots> warps;
  void* scheduler_fake_stack = nullptr;
  const void* scheduler_stack = nullptr;
  size_t scheduler_stack_size = 0;
  void* tsan_host = nullptr;  // the launching host thread's TSan state
  // The running block's barrier addresses (CUDA_SIM_TSAN), by the parity of the barrier count.
  // Fresh for every block: freed memory takes TSan's synchronization objects in it along, so no
  // edge leads from one block to the next.
  std::unique_ptr<uint64_t[]> barrier_syncs;
};

// A plain global, not thread_local: one block runs at a time in the whole process (sim_lock), and
// every yield reads it (a thread_local of this position-independent code costs a __tls_get_addr,
// which AddressSanitizer intercepts).
BlockRun* t_run = nullptr;

// The happens-before edges of a simulated CUDA execution (the file comment); no-ops without TSan.
#if defined(CUDA_SIM_TSAN)
char g_launch_sync;  // host -> every thread of the grid
char g_exit_sync;    // every thread of the grid -> host

void* barrier_sync(BlockRun& run, uint64_t barriers) { return &run.barrier_syncs[barriers & 1]; }
void tsan_release(void* address) { __tsan_release(address); }
void tsan_acquire(void* address) { __tsan_acquire(address); }
void tsan_switch_to(void* fiber) { __tsan_switch_to_fiber(fiber, __tsan_switch_to_fiber_no_sync); }

// Slot `slot`'s TSan thread, named after it: a race report says "cuda_sim thread 5", the linear
// index of the thread in its block (threadIdx.x + blockDim.x * (threadIdx.y + ...)). One per slot
// for the whole process, not one per block: a slot's stack is reused by every block, and only
// the same TSan thread may reuse it without an edge.
void* tsan_make_fiber(int slot) {
  void* fiber = __tsan_create_fiber(0);
  const std::string name = "cuda_sim thread " + std::to_string(slot);
  __tsan_set_fiber_name(fiber, name.c_str());
  return fiber;
}

// The launch's and the grid end's edges, made once per grid and slot rather than per block and
// thread: TSan's vector clocks have one entry per TSan thread (a few hundred here), so each edge
// costs that many steps, and a grid has up to thousands of blocks. TSan is told it runs in the
// slot's thread for the edge alone (a switch of TSan's current thread, no context switch). Per
// grid is enough: between two blocks the host touches nothing that TSan sees (the shared
// variables' fresh state and poison, the fibers' stacks), so the grid-start edge covers them all.
template <class Edge>
void tsan_in_each_slot(BlockRun& run, int count, Edge edge) {
  for (int i = 0; i < count; ++i) {
    tsan_switch_to(run.threads[i].tsan_fiber);
    edge();
  }
  tsan_switch_to(run.tsan_host);
}

void tsan_grid_start(BlockRun& run, int count) {
  run.tsan_host = __tsan_get_current_fiber();
  for (int i = 0; i < count; ++i)
    if (!run.threads[i].tsan_fiber) run.threads[i].tsan_fiber = tsan_make_fiber(i);
  tsan_release(&g_launch_sync);
  tsan_in_each_slot(run, count, [] { tsan_acquire(&g_launch_sync); });
}

// Also after a failed block: the threads that wait forever, and the failing thread's message.
void tsan_grid_end(BlockRun& run, int count) {
  tsan_in_each_slot(run, count, [] { tsan_release(&g_exit_sync); });
  tsan_acquire(&g_exit_sync);
  run.barrier_syncs.reset();
}

// A fresh shadow state for the shared variables and fresh barrier addresses before each block:
// the simulator keeps the variables at one address for every block, where a GPU gives each block
// its own memory, and nothing orders two blocks (so block N's first accesses would race with
// block N-1's).
void tsan_block_start(BlockRun& run, const std::vector<std::pair<void*, size_t>>& shared_vars) {
  for (const auto& [address, bytes] : shared_vars) {
    // TSan's shadow cells are 8 bytes: the whole cells that hold the variable.
    const auto begin = reinterpret_cast<uintptr_t>(address) & ~uintptr_t{7};
    const auto end = (reinterpret_cast<uintptr_t>(address) + bytes + 7) & ~uintptr_t{7};
    __tsan_java_free(begin, end - begin);
    __tsan_java_alloc(begin, end - begin);
  }
  run.barrier_syncs.reset(new uint64_t[2]);
}
#else
void* barrier_sync(BlockRun&, uint64_t) { return nullptr; }
void tsan_release(void*) {}
void tsan_acquire(void*) {}
void tsan_grid_start(BlockRun&, int) {}
void tsan_grid_end(BlockRun&, int) {}
void tsan_block_start(BlockRun&, const std::vector<std::pair<void*, size_t>>&) {}
#endif

// The seeded orders (blocks, and runnable threads between waits): a Fisher-Yates shuffle driven by
// splitmix64, a few cycles per element where std::shuffle with mt19937_64 cost a tenth of the
// simulated suite.
struct OrderRng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) up to a bias below n / 2^64 (Lemire's multiply-shift).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
};

template <class T>
void shuffle_in_place(std::vector<T>& v, OrderRng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

// One pool of stacks, reused by every block (one block runs at a time: sim_lock).
SimThread* thread_pool() {
  static SimThread* pool = [] {
    auto* threads = new SimThread[kMaxThreads];
    const size_t per = kStackBytes + kGuardBytes;
    void* region = mmap(nullptr, per * kMaxThreads, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) {
      std::perror("cuda_sim: mmap of the thread stacks");
      std::abort();
    }
    for (int i = 0; i < kMaxThreads; ++i) {
      char* base = static_cast<char*>(region) + per * i;
      mprotect(base, kGuardBytes, PROT_NONE);
      threads[i].stack = base + kGuardBytes;
    }
    return threads;
  }();
  return pool;
}

void yield_to_runner() {
  BlockRun& run = *t_run;
  SimThread& self = *run.current;
#if CUDA_SIM_ASAN
  __sanitizer_start_switch_fiber(&self.fake_stack, run.scheduler_stack, run.scheduler_stack_size);
#endif
#if defined(CUDA_SIM_TSAN)
  tsan_switch_to(run.tsan_host);
#endif
  fiber_switch(self.ctx, run.scheduler);
#if CUDA_SIM_ASAN
  __sanitizer_finish_switch_fiber(self.fake_stack, &run.scheduler_stack,
                                  &run.scheduler_stack_size);
#endif
}

// A misuse found inside a thread (a bad shuffle mask): the block stops here. The message moves
// into the run, so that the abandoned stack holds no heap memory (LeakSanitizer would see it).
[[noreturn]] void fail_in_thread(std::string&& what) {
  BlockRun& run = *t_run;
  run.error = std::move(what);
  run.current->state = State::kExited;
  yield_to_runner();
  std::abort();  // never resumed
}

// Not instrumented: its frame never returns, so its red zones would stay on the reused stack.
__attribute__((no_sanitize("address"))) void thread_entry() {
  BlockRun& run = *t_run;
#if CUDA_SIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &run.scheduler_stack, &run.scheduler_stack_size);
#endif
  (*run.body)();
  run.current->state = State::kExited;
#if CUDA_SIM_ASAN
  __sanitizer_start_switch_fiber(nullptr, run.scheduler_stack, run.scheduler_stack_size);
#endif
#if defined(CUDA_SIM_TSAN)
  tsan_switch_to(run.tsan_host);
#endif
  FiberContext dead;  // this fiber is never resumed: its context is not kept
  fiber_switch(dead, run.scheduler);
  std::abort();
}

void resume(BlockRun& run, SimThread& t) {
  run.current = &t;
  t_thread_idx = t.idx;
#if CUDA_SIM_ASAN
  __sanitizer_start_switch_fiber(&run.scheduler_fake_stack, t.stack, kStackBytes);
#endif
#if defined(CUDA_SIM_TSAN)
  tsan_switch_to(t.tsan_fiber);
#endif
  fiber_switch(run.scheduler, t.ctx);
#if CUDA_SIM_ASAN
  __sanitizer_finish_switch_fiber(run.scheduler_fake_stack, nullptr, nullptr);
#endif
}

std::string where(const char* file, int line) {
  std::ostringstream os;
  os << file << ":" << line;
  return os.str();
}

std::string block_name() {
  std::ostringstream os;
  os << "block (" << t_block_idx.x << "," << t_block_idx.y << "," << t_block_idx.z << ")";
  return os.str();
}

// Releases every warp group whose lanes all wait at a shuffle with the same mask.
bool release_warps(BlockRun& run) {
  bool progress = false;
  for (int t = 0; t < run.count; ++t) {
    SimThread& first = run.threads[t];
    if (first.state != State::kWarp) continue;
    const int warp_base = (first.linear / 32) * 32;
    bool complete = true;
    for (int lane = 0; lane < 32 && complete; ++lane) {
      if (!(first.mask >> lane & 1u)) continue;
      const SimThread& other = run.threads[warp_base + lane];
      complete = other.state == State::kWarp && other.mask == first.mask;
    }
    if (!complete) continue;
    WarpSlots& slots = run.warps[static_cast<size_t>(first.linear / 32)];
    for (int lane = 0; lane < 32; ++lane) {
      if (!(first.mask >> lane & 1u)) continue;
      SimThread& t = run.threads[warp_base + lane];
      // Which buffer holds this exchange's value: the lane may run ahead into its next shuffle
      // (the other buffer) before a slower reader of the same group has read it.
      slots.released_gen[lane] = t.slot_gen;
      t.state = State::kRunnable;
    }
    progress = true;
  }
  return progress;
}

// Nothing can run: explain why (the first thread that waits for something that cannot happen).
std::string explain_deadlock(BlockRun& run) {
  for (int t = 0; t < run.count; ++t) {
    const SimThread& s = run.threads[t];
    if (s.state != State::kWarp) continue;
    const int warp_base = (s.linear / 32) * 32;
    for (int lane = 0; lane < 32; ++lane) {
      if (!(s.mask >> lane & 1u)) continue;
      const SimThread& o = run.threads[warp_base + lane];
      if (o.state == State::kWarp && o.mask == s.mask) continue;
      std::ostringstream os;
      os << "__shfl_down_sync at " << where(s.file, s.line) << " in thread " << s.linear
         << " of " << block_name() << " waits for lane " << lane << " of its warp (mask 0x"
         << std::hex << s.mask << std::dec << "), which "
         << (o.state == State::kExited ? "has returned"
                                       : "waits at " + where(o.file, o.line) + " instead");
      return os.str();
    }
  }
  return "no thread of " + block_name() + " can continue";
}

}  // namespace

void syncthreads(const char* file, int line) {
  BlockRun& run = *t_run;
  SimThread& self = *run.current;
  // Every thread releases before it waits and acquires once the barrier opened: what any thread
  // did before the barrier happens before what every thread does after it. By parity: a thread
  // released from this barrier may reach the next one before a slower one has acquired here.
  void* sync = barrier_sync(run, self.barriers++);
  tsan_release(sync);
  self.state = State::kBarrier;
  self.file = file;
  self.line = line;
  yield_to_runner();
  tsan_acquire(sync);
}

// What is wrong with a shuffle call, "" when nothing. A separate function, so that no string
// buffer is left on a thread's stack when fail_in_thread abandons it. The checks come first and
// cost a few integer operations: the message is built only for a call that is wrong (every
// shuffle of every reduction passes through here twice).
__attribute__((noinline)) std::string shuffle_problem(const SimThread& self, int count,
                                                      unsigned mask, int width, int source,
                                                      const char* file, int line) {
  const int warp = self.linear / 32, lane = self.linear % 32;
  const int lanes = std::min(32, count - warp * 32);
  const unsigned existing = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
  const bool bad_source = source >= 0 && !(mask >> source & 1u);
  const bool bad_lanes = source < 0 && (mask & ~existing) != 0;
  const bool bad_caller = source < 0 && !(mask >> lane & 1u);
  const bool bad_width = source < 0 && (width < 1 || width > 32 || (width & (width - 1)) != 0);
  if (!bad_source && !bad_lanes && !bad_caller && !bad_width) return "";
  std::ostringstream os;
  os << "__shfl_down_sync at " << where(file, line) << " in thread " << self.linear << " of "
     << block_name() << ": " << std::hex;
  if (bad_source) {
    os << std::dec << "lane " << lane << " reads lane " << source
       << ", which is not in the mask 0x" << std::hex << mask
       << " (its value is undefined on a GPU)";
  } else if (bad_lanes) {
    os << "mask 0x" << mask << std::dec << " names lanes that do not exist (warp " << warp
       << " has " << lanes << " threads: blockDim is not a multiple of 32)";
  } else if (bad_caller) {
    os << "mask 0x" << mask << std::dec << " does not include the calling lane " << lane;
  } else {
    os << std::dec << "width " << width << " is not a power of two <= 32";
  }
  return os.str();
}

// The common case of shuffle_problem without a call: a full warp, a full mask, a valid width.
inline bool plainly_valid_shuffle(const SimThread& self, int count, unsigned mask, int width) {
  return mask == 0xffffffffu && (self.linear / 32) * 32 + 32 <= count && width >= 1 &&
         width <= 32 && (width & (width - 1)) == 0;
}

uint64_t shfl_down(unsigned mask, uint64_t bits, unsigned delta, int width, const char* file,
                   int line) {
  BlockRun& run = *t_run;
  SimThread& self = *run.current;
  const int warp = self.linear / 32, lane = self.linear % 32;
  const bool plain = plainly_valid_shuffle(self, run.count, mask, width);
  if (!plain) {
    std::string problem = shuffle_problem(self, run.count, mask, width, -1, file, line);
    if (!problem.empty()) fail_in_thread(std::move(problem));
  }
  self.slot_gen = self.shuffles++;
  run.warps[warp].value[self.slot_gen & 1][lane] = bits;
  self.state = State::kWarp;
  self.mask = mask;
  self.file = file;
  self.line = line;
  yield_to_runner();
  // Released: every lane of the mask has written its value for this exchange.
  const int segment = lane & ~(width - 1);
  const int source = lane + static_cast<int>(delta);
  if (delta >= 32u || source >= segment + width) return bits;  // out of the segment: own value
  if (!plain) {  // a full mask holds every source lane
    std::string problem = shuffle_problem(self, run.count, mask, width, source, file, line);
    if (!problem.empty()) fail_in_thread(std::move(problem));
  }
  const WarpSlots& slots = run.warps[warp];
  return slots.value[slots.released_gen[source] & 1][source];
}

std::string run_grid(dim3 grid, dim3 block, const std::function<void()>& thread_body,
                     const std::vector<std::pair<void*, size_t>>& shared_vars,
                     uint64_t order_seed) {
  const uint64_t blocks = static_cast<uint64_t>(grid.x) * grid.y * grid.z;
  const int count = static_cast<int>(block.x * block.y * block.z);
  std::vector<uint64_t> order(blocks);
  for (uint64_t i = 0; i < blocks; ++i) order[i] = i;
  OrderRng rng{order_seed};
  shuffle_in_place(order, rng);

  BlockRun run;
  run.threads = thread_pool();
  run.count = count;
  run.body = &thread_body;
  run.warps.resize(static_cast<size_t>((count + 31) / 32));
  BlockRun* saved = t_run;
  t_run = &run;
  tsan_grid_start(run, count);
  t_block_dim = block;
  t_grid_dim = grid;
  std::vector<SimThread*> runnable;
  runnable.reserve(static_cast<size_t>(count));
  for (uint64_t b : order) {
    t_block_idx = uint3{static_cast<unsigned>(b % grid.x),
                        static_cast<unsigned>(b / grid.x % grid.y),
                        static_cast<unsigned>(b / (static_cast<uint64_t>(grid.x) * grid.y))};
    tsan_block_start(run, shared_vars);
    for (const auto& [address, bytes] : shared_vars) poison_bytes(address, bytes);
    for (int i = 0; i < count; ++i) {
      SimThread& t = run.threads[i];
      t.state = State::kRunnable;
      t.linear = i;
      t.idx = uint3{static_cast<unsigned>(i % block.x), static_cast<unsigned>(i / block.x % block.y),
                    static_cast<unsigned>(i / (block.x * block.y))};
      t.shuffles = 0;
      t.barriers = 0;
      fiber_prepare(t.ctx, t.stack, kStackBytes, thread_entry);
    }
    for (;;) {
      runnable.clear();
      for (int i = 0; i < count; ++i)
        if (run.threads[i].state == State::kRunnable) runnable.push_back(&run.threads[i]);
      shuffle_in_place(runnable, rng);
      for (SimThread* t : runnable) {
        resume(run, *t);
        if (!run.error.empty()) break;
      }
      if (!run.error.empty()) break;
      if (release_warps(run)) continue;
      int live = 0, at_barrier = 0;
      for (int i = 0; i < count; ++i) {
        live += run.threads[i].state != State::kExited;
        at_barrier += run.threads[i].state == State::kBarrier;
      }
      if (live == 0) break;
      if (at_barrier == live) {
        const SimThread* first = nullptr;
        const SimThread* other = nullptr;
        for (int i = 0; i < count; ++i) {
          const SimThread& t = run.threads[i];
          if (t.state != State::kBarrier) continue;
          if (!first) first = &t;
          else if (!other && (t.file != first->file || t.line != first->line)) other = &t;
        }
        std::ostringstream os;
        if (live < count) {
          os << "__syncthreads() at " << where(first->file, first->line) << " is reached by "
             << live << " of the " << count << " threads of " << block_name() << "; the other "
             << count - live << " returned without reaching it (a barrier in divergent code)";
          run.error = os.str();
          break;
        }
        if (other) {
          os << "the threads of " << block_name() << " wait at different __syncthreads(): "
             << where(first->file, first->line) << " (thread " << first->linear << ") and "
             << where(other->file, other->line) << " (thread " << other->linear
             << ") (a barrier in divergent code)";
          run.error = os.str();
          break;
        }
        for (int i = 0; i < count; ++i) run.threads[i].state = State::kRunnable;
        continue;
      }
      run.error = explain_deadlock(run);
      break;
    }
    if (!run.error.empty()) {
#if CUDA_SIM_ASAN
      // The abandoned threads' frames never returned: clear their red zones for the next grid.
      for (int i = 0; i < count; ++i) __asan_unpoison_memory_region(run.threads[i].stack, kStackBytes);
#endif
      break;
    }
  }
  // Every thread of the grid before what the host does next (the first being to read the message
  // a failing thread wrote).
  tsan_grid_end(run, count);
  t_run = saved;
  return std::move(run.error);
}

}  // namespace cuda_sim::detail
