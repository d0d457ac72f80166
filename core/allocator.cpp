// The caching device allocator and the counted host allocation of core/allocator.h.
// Layout: one mutex; a map from live pointers to their blocks; per device, free lists keyed by
// (stream, size class) and the statistics.
#include "core/allocator.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <new>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/log.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace mrbm {
namespace {

constexpr int64_t kSmallGranularity = 512;
constexpr int64_t kLargeThreshold = int64_t{1} << 20;  // 1 MiB
constexpr int64_t kLargeSubdivisions = 8;              // classes per power of two above 1 MiB

struct Block {
  int device = 0;
  Stream stream = nullptr;
  int64_t size = 0;       // the size class
  int64_t requested = 0;  // what the caller asked for
};

struct DeviceState {
  std::map<std::pair<Stream, int64_t>, std::vector<void*>> free_blocks;
  DeviceAllocatorStats stats;
};

class CachingAllocator {
 public:
  void* allocate(int64_t bytes, int device, Stream stream) {
    MRBM_CHECK(bytes >= 0, "device_allocate: negative size " << bytes);
    if (bytes == 0) return nullptr;
    const int64_t size = device_size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceState& state = devices_[device];
    void* ptr = nullptr;
    auto it = state.free_blocks.find({stream, size});
    if (it != state.free_blocks.end() && !it->second.empty()) {
      ptr = it->second.back();
      it->second.pop_back();
      state.stats.bytes_cached -= size;
      ++state.stats.num_cache_hits;
    } else {
      ptr = device_malloc(state, size, device, bytes);
    }
    live_[ptr] = Block{device, stream, size, bytes};
    DeviceAllocatorStats& s = state.stats;
    ++s.num_allocations;
    ++s.blocks_in_use;
    s.bytes_in_use += size;
    s.bytes_requested += bytes;
    s.peak_bytes_in_use = std::max(s.peak_bytes_in_use, s.bytes_in_use);
    return ptr;
  }

  void deallocate(void* ptr) noexcept {
    if (ptr == nullptr) return;
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = live_.find(ptr);
      if (it == live_.end()) {
        MRBM_LOG_ERROR(
            "device_deallocate: " << ptr << " was not allocated here or is freed twice; ignored");
        return;
      }
      const Block block = it->second;
      live_.erase(it);
      DeviceState& state = devices_[block.device];
      state.free_blocks[{block.stream, block.size}].push_back(ptr);
      DeviceAllocatorStats& s = state.stats;
      --s.blocks_in_use;
      s.bytes_in_use -= block.size;
      s.bytes_requested -= block.requested;
      s.bytes_cached += block.size;
    } catch (const std::exception& e) {  // bad_alloc growing a free list: the block is lost
      MRBM_LOG_ERROR("device_deallocate: " << e.what());
    }
  }

  void empty_cache() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [device, state] : devices_) release_cached(state, device);
  }

  DeviceAllocatorStats stats(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = devices_.find(device);
    return it == devices_.end() ? DeviceAllocatorStats{} : it->second.stats;
  }

  void reset_peak(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceAllocatorStats& s = devices_[device].stats;
    s.peak_bytes_in_use = s.bytes_in_use;
  }

 private:
  // cudaMalloc of one block on `device`; on out-of-memory, frees this device's cache and retries.
  void* device_malloc(DeviceState& state, int64_t size, int device, int64_t requested) {
#if defined(MRBM_WITH_CUDA)
    CudaDeviceGuard guard(device);
    void* ptr = nullptr;
    cudaError_t code = cudaMalloc(&ptr, static_cast<size_t>(size));
    if (code == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached(state, device);
      code = cudaMalloc(&ptr, static_cast<size_t>(size));
    }
    if (code != cudaSuccess) {
      (void)cudaGetLastError();
      MRBM_THROW(CudaError, "out of device memory on cuda:"
                                << device << ": cudaMalloc of " << size << " bytes (requested "
                                << requested << ") failed: " << cudaGetErrorString(code)
                                << "; in use by mrbm " << state.stats.bytes_in_use << " bytes");
    }
    ++state.stats.num_device_mallocs;
    return ptr;
#else
    (void)state;
    (void)size;
    MRBM_THROW(CudaError, "cannot allocate " << requested << " bytes on cuda:" << device
                                             << ": this build has no CUDA support");
#endif
  }

  // Frees every cached block of one device. cudaFree synchronizes the device, so blocks whose last
  // use is still queued on their stream are released only after that work completes.
  void release_cached(DeviceState& state, int device) noexcept {
#if defined(MRBM_WITH_CUDA)
    if (state.stats.bytes_cached == 0) return;
    int previous = -1;
    if (cudaGetDevice(&previous) != cudaSuccess) (void)cudaGetLastError();
    MRBM_CUDA_CHECK_NOTHROW(cudaSetDevice(device));
    for (auto& [key, blocks] : state.free_blocks) {
      for (void* ptr : blocks) {
        MRBM_CUDA_CHECK_NOTHROW(cudaFree(ptr));
        ++state.stats.num_device_frees;
      }
    }
    if (previous >= 0 && previous != device) MRBM_CUDA_CHECK_NOTHROW(cudaSetDevice(previous));
#else
    (void)device;
#endif
    state.free_blocks.clear();
    state.stats.bytes_cached = 0;
  }

  std::mutex mutex_;
  std::unordered_map<void*, Block> live_;
  std::map<int, DeviceState> devices_;
};

// Never destroyed: a static destructor would call cudaFree after the CUDA runtime has been torn
// down at exit, and Tensors in other static objects may still return blocks late.
CachingAllocator& caching_allocator() {
  static CachingAllocator* allocator = new CachingAllocator();
  return *allocator;
}

struct HostCounters {
  std::atomic<int64_t> bytes_in_use{0};
  std::atomic<int64_t> peak_bytes_in_use{0};
  std::atomic<int64_t> blocks_in_use{0};
  std::atomic<int64_t> num_allocations{0};
};

HostCounters& host_counters() {
  static HostCounters counters;
  return counters;
}

// Freed host blocks of >= kHostCacheMin bytes by size class (allocator.h says why). Never
// destroyed, like the device allocator: a Tensor freed during static destruction still finds it.
class HostBlockCache {
 public:
  void* take(int64_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(size);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* ptr = it->second.back();
    it->second.pop_back();
    bytes_cached_ -= size;
    ++hits_;
    return ptr;
  }
  // False when the cache is full (the caller frees the block).
  bool put(void* ptr, int64_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (bytes_cached_ + size > kHostCacheLimit) return false;
    free_[size].push_back(ptr);
    bytes_cached_ += size;
    return true;
  }
  void empty() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) ::operator delete (p, std::align_val_t{kHostAlignment});
    free_.clear();
    bytes_cached_ = 0;
  }
  std::pair<int64_t, int64_t> stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {bytes_cached_, hits_};
  }

 private:
  std::mutex mutex_;
  std::map<int64_t, std::vector<void*>> free_;
  int64_t bytes_cached_ = 0;
  int64_t hits_ = 0;
};

HostBlockCache& host_cache() {
  static HostBlockCache* cache = new HostBlockCache;
  return *cache;
}

// The size actually allocated for a request of `bytes`.
int64_t host_block_size(int64_t bytes) {
  return bytes >= kHostCacheMin ? device_size_class(bytes) : bytes;
}

}  // namespace

int64_t device_size_class(int64_t bytes) {
  if (bytes <= 0) return 0;
  if (bytes <= kLargeThreshold) {
    return (bytes + kSmallGranularity - 1) / kSmallGranularity * kSmallGranularity;
  }
  int64_t power = kLargeThreshold;
  while (power <= bytes / 2) power *= 2;  // the largest power of two <= bytes
  const int64_t step = power / kLargeSubdivisions;
  return (bytes + step - 1) / step * step;
}

void* device_allocate(int64_t bytes, int device, Stream stream) {
  return caching_allocator().allocate(bytes, device, stream);
}

void device_deallocate(void* ptr) noexcept { caching_allocator().deallocate(ptr); }

void device_empty_cache() noexcept { caching_allocator().empty_cache(); }

DeviceAllocatorStats device_allocator_stats(int device) {
  return caching_allocator().stats(device);
}

void reset_device_peak(int device) { caching_allocator().reset_peak(device); }

void* host_allocate(int64_t bytes) {
  MRBM_CHECK(bytes >= 0, "host_allocate: negative size " << bytes);
  if (bytes == 0) return nullptr;
  const int64_t size = host_block_size(bytes);
  auto aligned_new = [size] {
    return ::operator new(static_cast<size_t>(size), std::align_val_t{kHostAlignment}, std::nothrow);
  };
  void* ptr = size >= kHostCacheMin ? host_cache().take(size) : nullptr;
  if (ptr == nullptr) ptr = aligned_new();
  if (ptr == nullptr && size >= kHostCacheMin) {  // memory held by the cache may be what is missing
    host_cache().empty();
    ptr = aligned_new();
  }
  if (ptr == nullptr)
    MRBM_THROW(Error, "out of host memory: allocating " << bytes << " bytes failed");
  HostCounters& c = host_counters();
  const int64_t in_use = c.bytes_in_use.fetch_add(bytes) + bytes;
  int64_t peak = c.peak_bytes_in_use.load();
  while (in_use > peak && !c.peak_bytes_in_use.compare_exchange_weak(peak, in_use)) {
  }
  c.blocks_in_use.fetch_add(1);
  c.num_allocations.fetch_add(1);
  return ptr;
}

void host_deallocate(void* ptr, int64_t bytes) noexcept {
  if (ptr == nullptr) return;
  const int64_t size = host_block_size(bytes);
  if (size < kHostCacheMin || !host_cache().put(ptr, size))
    ::operator delete (ptr, std::align_val_t{kHostAlignment});
  HostCounters& c = host_counters();
  c.bytes_in_use.fetch_sub(bytes);
  c.blocks_in_use.fetch_sub(1);
}

HostAllocatorStats host_allocator_stats() {
  const HostCounters& c = host_counters();
  HostAllocatorStats s;
  s.bytes_in_use = c.bytes_in_use.load();
  s.peak_bytes_in_use = c.peak_bytes_in_use.load();
  s.blocks_in_use = c.blocks_in_use.load();
  s.num_allocations = c.num_allocations.load();
  std::tie(s.bytes_cached, s.num_cache_hits) = host_cache().stats();
  return s;
}

void host_empty_cache() noexcept { host_cache().empty(); }

}  // namespace mrbm
