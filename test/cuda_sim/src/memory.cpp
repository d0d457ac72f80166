// CUDA simulator: device memory. Each device's global memory is one mmap'ed arena that stays
// PROT_NONE while host code runs (a host dereference of a device pointer crashes with SIGSEGV);
// the simulator opens it only while it runs a kernel, a copy, a memset or a cuBLAS call. Fresh
// allocations hold the poison (NaN bytes), as a GPU's fresh memory holds garbage.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include "cuda_sim/control.h"
#include "state.h"

namespace cuda_sim::detail {
namespace {

constexpr size_t kAlignment = 256;  // cudaMalloc's alignment
int g_open_depth = 0;

void protect_all(int prot) {
  for (Device& d : devices()) {
    if (mprotect(d.arena.base, d.arena.size, prot) != 0) {
      std::perror("cuda_sim: mprotect");
      std::abort();
    }
  }
}

// Where a copy's pointer lies: host memory, or inside one live allocation of a device.
enum class Side { kHost, kDevice, kInvalid };
Side side_of(const void* p, size_t bytes) {
  if (device_of(p) < 0) return Side::kHost;
  return inside_allocation(p, bytes) ? Side::kDevice : Side::kInvalid;
}

std::string describe(const void* p) {
  std::ostringstream os;
  os << p;
  const int d = device_of(p);
  os << (d < 0 ? " (host memory)" : " (device memory of cuda:" + std::to_string(d) + ")");
  return os.str();
}

}  // namespace

MemoryOpen::MemoryOpen() {
  sim_lock().lock();
  if (g_open_depth++ == 0) protect_all(PROT_READ | PROT_WRITE);
}

MemoryOpen::~MemoryOpen() {
  if (--g_open_depth == 0) protect_all(PROT_NONE);
  sim_lock().unlock();
}

void init_arena(Arena& a, size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("cuda_sim: mmap of the device memory");
    std::abort();
  }
  a.base = static_cast<char*>(p);
  a.size = bytes;
  a.free_blocks[0] = bytes;
}

int device_of(const void* p) {
  for (const Device& d : devices())
    if (d.arena.contains(p)) return d.index;
  return -1;
}

bool inside_allocation(const void* p, size_t bytes) {
  const int dev = device_of(p);
  if (dev < 0) return false;
  const Arena& a = device(dev).arena;
  const size_t offset = static_cast<size_t>(static_cast<const char*>(p) - a.base);
  auto it = a.allocations.upper_bound(offset);
  if (it == a.allocations.begin()) return false;
  --it;
  return offset + bytes <= it->first + it->second;
}

__attribute__((no_sanitize("address", "thread"))) void poison_bytes(void* p, size_t bytes) {
  // A plain loop the sanitizer does not check: shared-memory variables may lie between red zones.
  // Nor ThreadSanitizer: the poison is the simulator's, not a write of the program's (the host's
  // poison of shared memory between two blocks has no edge to the next block: block_runner.cpp).
  volatile unsigned char* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) b[i] = kPoison;
}

}  // namespace cuda_sim::detail

namespace cuda_sim {
bool is_device_pointer(const void* p) {
  std::lock_guard<std::recursive_mutex> lock(detail::sim_lock());
  return detail::device_of(p) >= 0;
}
}  // namespace cuda_sim

using namespace cuda_sim::detail;

cudaError_t cudaMalloc(void** ptr, size_t size) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!ptr) return set_last_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  Arena& a = device(current_device()).arena;
  const size_t bytes = (size + kAlignment - 1) / kAlignment * kAlignment;
  for (auto it = a.free_blocks.begin(); it != a.free_blocks.end(); ++it) {
    if (it->second < bytes) continue;
    const size_t offset = it->first, rest = it->second - bytes;
    a.free_blocks.erase(it);
    if (rest > 0) a.free_blocks[offset + bytes] = rest;
    a.allocations[offset] = bytes;
    a.used += bytes;
    *ptr = a.base + offset;
    MemoryOpen open;
    std::memset(*ptr, kPoison, bytes);
    return cudaSuccess;
  }
  return set_last_error(cudaErrorMemoryAllocation);
}

cudaError_t cudaFree(void* ptr) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!ptr) return cudaSuccess;
  const int dev = device_of(ptr);
  if (dev < 0) return set_last_error(cudaErrorInvalidValue);
  // cudaFree synchronizes: pending work that uses the block runs before it is reused.
  flush_device(dev);
  Arena& a = device(dev).arena;
  const size_t offset = static_cast<size_t>(static_cast<char*>(ptr) - a.base);
  auto it = a.allocations.find(offset);
  if (it == a.allocations.end()) return set_last_error(cudaErrorInvalidValue);
  size_t start = offset, bytes = it->second;
  a.used -= bytes;
  a.allocations.erase(it);
  // Give the pages back (large blocks) and merge with the free neighbours.
  const size_t page = 4096;
  const size_t first_page = (start + page - 1) / page * page, end = start + bytes;
  if (end > first_page + page) madvise(a.base + first_page, (end - first_page) / page * page,
                                       MADV_DONTNEED);
  auto next = a.free_blocks.lower_bound(start);
  if (next != a.free_blocks.end() && next->first == end) {
    bytes += next->second;
    next = a.free_blocks.erase(next);
  }
  if (next != a.free_blocks.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      bytes += prev->second;
      a.free_blocks.erase(prev);
    }
  }
  a.free_blocks[start] = bytes;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!free_bytes || !total_bytes) return set_last_error(cudaErrorInvalidValue);
  const Arena& a = device(current_device()).arena;
  *total_bytes = a.size;
  *free_bytes = a.size - a.used;
  return cudaSuccess;
}

namespace {

// Checks a copy's pointers against its kind (cudaMemcpyDefault infers it); on success `kind` is
// the actual direction.
cudaError_t check_copy(void* dst, const void* src, size_t count, cudaMemcpyKind& kind) {
  const Side d = side_of(dst, count), s = side_of(src, count);
  if (d == Side::kInvalid || s == Side::kInvalid) {
    report("cudaMemcpy: " + describe(d == Side::kInvalid ? dst : src) + " + " +
           std::to_string(count) + " bytes is not inside one device allocation");
    return cudaErrorInvalidValue;
  }
  const cudaMemcpyKind actual =
      s == Side::kHost ? (d == Side::kHost ? cudaMemcpyHostToHost : cudaMemcpyHostToDevice)
                       : (d == Side::kHost ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice);
  if (kind == cudaMemcpyDefault) kind = actual;
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return cudaErrorInvalidMemcpyDirection;
  if (kind != actual) {
    static const char* names[] = {"cudaMemcpyHostToHost", "cudaMemcpyHostToDevice",
                                  "cudaMemcpyDeviceToHost", "cudaMemcpyDeviceToDevice"};
    report(std::string("cudaMemcpy: kind ") + names[kind] + " but dst " + describe(dst) +
           ", src " + describe(src));
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

Stream* stream_or_error(cudaStream_t stream, cudaError_t& err) {
  err = valid_stream(stream) ? cudaSuccess : cudaErrorInvalidResourceHandle;
  return err == cudaSuccess ? resolve(stream) : nullptr;
}

// Enqueues a copy. Host sources are read now (CUDA stages pageable memory before returning);
// host destinations hold the poison until the copy has run.
cudaError_t enqueue_copy(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                         Stream* s) {
  if (kind == cudaMemcpyHostToHost || kind == cudaMemcpyHostToDevice) {
    auto staged = std::make_shared<std::vector<unsigned char>>(
        static_cast<const unsigned char*>(src), static_cast<const unsigned char*>(src) + count);
    enqueue(s, Op{[dst, staged] {
                    std::memcpy(dst, staged->data(), staged->size());
                    return cudaSuccess;
                  },
                  {},
                  "cudaMemcpy"});
    return cudaSuccess;
  }
  if (kind == cudaMemcpyDeviceToHost) std::memset(dst, kPoison, count);
  enqueue(s, Op{[dst, src, count] {
                  std::memmove(dst, src, count);
                  return cudaSuccess;
                },
                {},
                "cudaMemcpy"});
  return cudaSuccess;
}

}  // namespace

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (count == 0) return cudaSuccess;
  cudaError_t err;
  Stream* s = stream_or_error(stream, err);
  if (err == cudaSuccess) err = check_copy(dst, src, count, kind);
  if (err == cudaSuccess) err = enqueue_copy(dst, src, count, kind, s);
  return set_last_error(err);
}

// Synchronous: an op on the legacy default stream that the host waits for. Like CUDA's, it does
// not wait for work on non-blocking streams.
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (count == 0) return cudaSuccess;
  cudaError_t err = check_copy(dst, src, count, kind);
  Stream* s = resolve(nullptr);
  if (err == cudaSuccess) err = enqueue_copy(dst, src, count, kind, s);
  if (err == cudaSuccess) err = flush_stream(s);
  return set_last_error(err);
}

cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device,
                                size_t count, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (count == 0) return cudaSuccess;
  const int n = static_cast<int>(devices().size());
  if (dst_device < 0 || dst_device >= n || src_device < 0 || src_device >= n)
    return set_last_error(cudaErrorInvalidDevice);
  if (device_of(dst) != dst_device || device_of(src) != src_device ||
      !inside_allocation(dst, count) || !inside_allocation(src, count)) {
    report("cudaMemcpyPeerAsync: dst " + describe(dst) + " / src " + describe(src) +
           " do not match devices " + std::to_string(dst_device) + " / " +
           std::to_string(src_device));
    return set_last_error(cudaErrorInvalidValue);
  }
  cudaError_t err;
  Stream* s = stream_or_error(stream, err);
  if (err == cudaSuccess) err = enqueue_copy(dst, src, count, cudaMemcpyDeviceToDevice, s);
  return set_last_error(err);
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (count == 0) return cudaSuccess;
  if (!inside_allocation(ptr, count)) {
    report("cudaMemset: " + describe(ptr) + " + " + std::to_string(count) +
           " bytes is not inside one device allocation");
    return set_last_error(cudaErrorInvalidValue);
  }
  cudaError_t err;
  Stream* s = stream_or_error(stream, err);
  if (err != cudaSuccess) return set_last_error(err);
  enqueue(s, Op{[ptr, value, count] {
                  std::memset(ptr, value, count);
                  return cudaSuccess;
                },
                {},
                "cudaMemset"});
  return cudaSuccess;
}

// CUDA: a memset of device memory is asynchronous with respect to the host even without Async:
// it is ordered on the legacy default stream.
cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  return cudaMemsetAsync(ptr, value, count, nullptr);
}
