// CUDA simulator: kernel launches. Checks what a GPU checks at launch (configuration limits, the
// stream's device), and what a GPU would fault on later (a host pointer or another device's
// pointer among the arguments), then enqueues the grid on the stream.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime (its allocator_interface.h, which GCC does not install): whether p
// is the start of a block of the sanitizer's allocator.
extern "C" int __sanitizer_get_ownership(const volatile void* p);
#endif
#include <sstream>

#include "block_runner.h"
#include "cuda_sim/launch.h"
#include "state.h"
#include "symbols.h"

namespace cuda_sim::detail {
namespace {

constexpr size_t kStaticSharedLimit = 48 * 1024;

std::string dims(dim3 d) {
  std::ostringstream os;
  os << "(" << d.x << "," << d.y << "," << d.z << ")";
  return os.str();
}

// CUDA's launch limits (every architecture since sm_20): at most 1024 threads per block,
// block (1024, 1024, 64), grid (2^31 - 1, 65535, 65535), nothing empty.
std::string config_problem(dim3 grid, dim3 block) {
  std::ostringstream os;
  const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) os << "empty grid " << dims(grid);
  else if (block.x == 0 || block.y == 0 || block.z == 0) os << "empty block " << dims(block);
  else if (threads > 1024) os << "block " << dims(block) << " has " << threads << " threads (max 1024)";
  else if (block.x > 1024 || block.y > 1024 || block.z > 64)
    os << "block " << dims(block) << " exceeds (1024,1024,64)";
  else if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    os << "grid " << dims(grid) << " exceeds (2147483647,65535,65535)";
  return os.str();
}

bool mapped(uintptr_t address) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  unsigned char vec = 0;
  return mincore(reinterpret_cast<void*>(address & ~(page - 1)), 1, &vec) == 0;
}

// AddressSanitizer's shadow memory is mapped at [0x7fff8000, 0x10007fff8000) on x86-64: two small
// int32 fields side by side (1, 0 -> 0x100000000) land there and are not pointers. mrbm's heap,
// stacks and binary all lie above it.
bool in_sanitizer_shadow(uintptr_t w) {
#if defined(__SANITIZE_ADDRESS__) && defined(__x86_64__)
  return w >= 0x7fff8000ull && w < 0x10007fff8000ull;
#else
  (void)w;
  return false;
#endif
}

// What is wrong with a value that a kernel may dereference, "" when nothing. A word that is not a
// mapped address is not a pointer; one in the launching device's memory is fine.
std::string pointer_problem(uintptr_t w, int dev) {
  if (w == 0) return "";
  const int owner = device_of(reinterpret_cast<const void*>(w));
  if (owner == dev) return "";
  std::ostringstream os;
  os << "0x" << std::hex << w << std::dec;
  if (owner >= 0) return os.str() + " is device memory of cuda:" + std::to_string(owner);
  if (w < 0x10000 || w >= 0x800000000000ull || in_sanitizer_shadow(w) || !mapped(w)) return "";
  return os.str() + " is host memory";
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckStructWords = true;
bool heap_block_start(uintptr_t w) {
  return __sanitizer_get_ownership(reinterpret_cast<const void*>(w)) != 0;
}
#else
// No allocator to ask: pointer arguments only. Not with ThreadSanitizer's either (the tsan build):
// it owns a block's interior too, and its heap starts at 0x7b0000000000, where an int32 field
// with 4 bytes of stale padding after it (Sampler in MultinaryArgs: 0x7b0400000000) is a block's
// start. The tsan build leaves this check to the ASan one (test_cuda_sim.cpp's [asan] test).
constexpr bool kCheckStructWords = false;
bool heap_block_start(uintptr_t) { return false; }
#endif

std::string argument_problem(const std::vector<ParamBytes>& params, int dev) {
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamBytes& p = params[i];
    std::string problem;
    if (p.is_pointer) {
      uintptr_t w;
      std::memcpy(&w, p.data, sizeof w);
      problem = pointer_problem(w, dev);
    } else if (kCheckStructWords) {
      // A struct argument: each aligned 8-byte word may be a pointer member. Only the start of a
      // live host heap block counts as a bad pointer here (two floats side by side can look like any
      // other address, and did: alpha = 1, beta = 0 of an AxpbyOp).
      const auto start = reinterpret_cast<uintptr_t>(p.data);
      for (uintptr_t a = (start + 7) & ~uintptr_t{7}; a + 8 <= start + p.size && problem.empty();
           a += 8) {
        uintptr_t w;
        std::memcpy(&w, reinterpret_cast<const void*>(a), sizeof w);
        problem = pointer_problem(w, dev);
        // Not another device's memory either: two int32 fields (0, 0x7ff1) spelled the second
        // arena's base address.
        if (!problem.empty() && !heap_block_start(w)) problem.clear();
        if (!problem.empty()) problem += " (at byte " + std::to_string(a - start) + ")";
      }
    }
    if (!problem.empty()) return "argument " + std::to_string(i) + ": " + problem;
  }
  return "";
}

uint64_t g_launches = 0;

}  // namespace

void enqueue_kernel(const void* kernel, dim3 grid, dim3 block, size_t shared_bytes,
                    cudaStream_t stream, std::vector<ParamBytes> params,
                    std::function<void()> thread_body, std::shared_ptr<void> keep_alive) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  const std::string name = kernel_name(kernel);
  const std::string config = config_problem(grid, block);
  if (!config.empty()) {
    report("launch of " + name + ": " + config);
    set_last_error(cudaErrorInvalidConfiguration);
    return;
  }
  if (shared_bytes > 0) {
    report("launch of " + name + ": dynamic shared memory is not simulated");
    set_last_error(cudaErrorNotSupported);
    return;
  }
  if (static_shared_bytes() > kStaticSharedLimit) {
    report("launch of " + name + ": " + std::to_string(static_shared_bytes()) +
           " bytes of static shared memory (max 48 KiB)");
    set_last_error(cudaErrorInvalidValue);
    return;
  }
  if (!valid_stream(stream)) {
    report("launch of " + name + ": invalid stream");
    set_last_error(cudaErrorInvalidResourceHandle);
    return;
  }
  Stream* s = resolve(stream);
  const int dev = current_device();
  if (s->device != dev) {
    // CUDA: "A kernel launch will fail if it is issued to a stream that is not associated to the
    // current device."
    report("launch of " + name + " on a stream of cuda:" + std::to_string(s->device) +
           " while cuda:" + std::to_string(dev) + " is current");
    set_last_error(cudaErrorInvalidResourceHandle);
    return;
  }
  const std::string bad_argument = argument_problem(params, dev);
  const uint64_t order_seed = seed() * 0x9e3779b97f4a7c15ull + ++g_launches;
  enqueue(s, Op{[=, body = std::move(thread_body), keep_alive = std::move(keep_alive)]() {
                  if (!bad_argument.empty()) {
                    // A GPU faults when the kernel dereferences it; the simulator says which.
                    report("kernel " + name + " on cuda:" + std::to_string(dev) + ", " +
                           bad_argument + " (an illegal address for the kernel)");
                    return cudaErrorIllegalAddress;
                  }
                  const std::string error = run_grid(grid, block, body, shared_variables(),
                                                     order_seed);
                  if (error.empty()) return cudaSuccess;
                  report("kernel " + name + " grid " + dims(grid) + " block " + dims(block) +
                         ": " + error);
                  return cudaErrorLaunchFailure;
                },
                {},
                name});
}

}  // namespace cuda_sim::detail

using namespace cuda_sim::detail;

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, const void* func) {
  if (!attributes || !func) return set_last_error(cudaErrorInvalidValue);
  *attributes = cudaFuncAttributes{};
  attributes->sharedSizeBytes = static_shared_bytes();
  attributes->maxThreadsPerBlock = 1024;
  attributes->numRegs = 32;
  attributes->ptxVersion = 90;
  attributes->binaryVersion = 90;
  return cudaSuccess;
}
