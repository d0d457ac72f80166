// Memory for Tensor storage: a caching CUDA device allocator and counted, aligned host allocation.
//
// Device: cudaMalloc/cudaFree synchronize and cost tens of microseconds, and a training step
// allocates the same activation shapes every time, so freed blocks are kept in per-device,
// per-stream free lists keyed by size class and handed out again. Size classes: below 1 MiB round
// up to a multiple of 512 B; above, to a multiple of 1/8 of the largest power of two not above the
// request (at most 12.5% waste, where powers of two would waste up to 50%); only a block of exactly
// the requested class is reused. A block is reused only on the stream it was allocated on: work on
// one stream runs in order, so reuse needs no synchronization (a block that another stream still
// reads must not be freed before that work completes; allocate on the stream that uses it). When
// cudaMalloc runs out of memory the device's cache is released and the call retried once.
// Thread-safe (one mutex). The allocator lives until the process ends (never destroyed, so no
// cudaFree runs after the CUDA runtime has shut down).
//
// Host: 64-byte aligned (a cache line, the widest SIMD load), counted so that tests can check that
// memory returns to its baseline after many training steps. Blocks of 1 MiB and more are rounded
// to the size classes above and kept for reuse when freed (up to kHostCacheLimit in all): glibc
// maps such blocks with mmap and returns them on free, so every training step page-faulted its
// activations in again (75k faults in 40 steps of the demo preset, each a kernel entry and a 4 KiB
// clear).
#pragma once

#include <cstdint>

#include "core/device.h"

namespace mrbm {

struct DeviceAllocatorStats {
  int64_t bytes_in_use = 0;       // sum of the size classes of live blocks
  int64_t bytes_requested = 0;    // sum of the requested sizes of live blocks
  int64_t bytes_cached = 0;       // free blocks kept for reuse
  int64_t peak_bytes_in_use = 0;  // since start or reset_device_peak
  int64_t blocks_in_use = 0;
  int64_t num_allocations = 0;     // device_allocate calls with a nonzero size
  int64_t num_cache_hits = 0;      // ... served from the cache
  int64_t num_device_mallocs = 0;  // cudaMalloc calls that succeeded
  int64_t num_device_frees = 0;    // cudaFree calls (empty_cache, out-of-memory retry)
};

// The size class of a request of `bytes` (0 for 0).
int64_t device_size_class(int64_t bytes);

// A block of at least `bytes` on CUDA device `device`, for use on `stream`; nullptr for 0 bytes.
// Throws InvalidArgument for negative sizes and CudaError when out of memory or without CUDA.
void* device_allocate(int64_t bytes, int device, Stream stream);
// Returns a block from device_allocate to the cache; nullptr is ignored; an unknown pointer is
// logged (never thrown: called from destructors).
void device_deallocate(void* ptr) noexcept;
// Frees every cached (unused) block of every device with cudaFree. Blocks in use are unaffected.
void device_empty_cache() noexcept;
DeviceAllocatorStats device_allocator_stats(int device);
void reset_device_peak(int device);

struct HostAllocatorStats {
  int64_t bytes_in_use = 0;
  int64_t peak_bytes_in_use = 0;
  int64_t blocks_in_use = 0;
  int64_t num_allocations = 0;  // host_allocate calls with a nonzero size
  int64_t bytes_cached = 0;     // freed large blocks kept for reuse
  int64_t num_cache_hits = 0;   // host_allocate calls served from the cache
};

constexpr int64_t kHostAlignment = 64;
constexpr int64_t kHostCacheMin = int64_t{1} << 20;      // smaller blocks go straight to malloc
constexpr int64_t kHostCacheLimit = int64_t{1} << 30;    // cached bytes at most

// 64-byte aligned host memory; nullptr for 0 bytes. Throws Error when out of memory.
void* host_allocate(int64_t bytes);
// `bytes` must be the size given to host_allocate (the statistics subtract it).
void host_deallocate(void* ptr, int64_t bytes) noexcept;
HostAllocatorStats host_allocator_stats();
// Frees every cached host block.
void host_empty_cache() noexcept;

}  // namespace mrbm
