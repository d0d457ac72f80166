// CUDA simulator internals: devices, their memory arenas, streams and events, and the deferred
// work queue. Everything is guarded by one recursive mutex (sim_lock): the simulator is a test
// tool and runs one thing at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_runtime_api.h"

namespace cuda_sim::detail {

std::recursive_mutex& sim_lock();

// The byte that fills shared memory at the start of each block, fresh device allocations and the
// destinations of pending asynchronous copies: 0xff bytes read as NaN in float and double.
constexpr unsigned char kPoison = 0xff;

// Device memory: one mmap'ed region per device, PROT_NONE while host code runs, so a host
// dereference of a device pointer crashes (SIGSEGV) instead of silently working. It is opened
// only while the simulator executes a kernel, a copy or a cuBLAS call (MemoryOpen).
struct Arena {
  char* base = nullptr;
  size_t size = 0;
  std::map<size_t, size_t> free_blocks;  // offset -> bytes
  std::map<size_t, size_t> allocations;  // offset -> bytes
  size_t used = 0;
  bool contains(const void* p) const {
    auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(base);
    return a >= b && a < b + size;
  }
};

struct Stream;

// One piece of deferred work. It may depend on other streams' work (the legacy default stream's
// implicit synchronization, cudaStreamWaitEvent): those run first.
struct Op {
  std::function<cudaError_t()> run;
  std::vector<std::pair<Stream*, uint64_t>> deps;  // (stream, sequence number to reach)
  std::string what;
};

struct Stream {
  int device = 0;
  bool legacy = false;        // the device's legacy default stream (stream 0)
  bool non_blocking = false;  // cudaStreamNonBlocking: never synchronizes with the legacy stream
  std::deque<Op> pending;
  uint64_t enqueued = 0;  // sequence number of the last op enqueued
  uint64_t done = 0;      // sequence number of the last op run
};

struct Event {
  int device = 0;
  Stream* stream = nullptr;  // where it was last recorded
  uint64_t seq = 0;
  bool recorded = false;
  bool timing = true;
  double time_ms = -1;  // host time when the record op ran
};

struct DeviceKind {
  const char* name;
  int major, minor, sm_count, clock_khz, memory_clock_khz, bus_width_bits, l2_bytes;
  size_t shared_optin;
};

struct Device {
  int index = 0;
  DeviceKind kind{};
  Arena arena;
  Stream* legacy = nullptr;
  std::vector<Stream*> streams;   // created streams of this device
  cudaError_t sticky = cudaSuccess;  // a failed kernel poisons the context, as on a GPU
};

std::vector<Device>& devices();  // initialized on first use (CUDA_SIM_DEVICES)
int& current_device();           // per host thread
Device& device(int index);

// Errors: the calling host thread's last error (cudaGetLastError) and diagnostics.
cudaError_t set_last_error(cudaError_t err);
void report(const std::string& message);  // stores and prints "cuda_sim: ..." (unless quiet)

// Streams and work.
bool valid_stream(cudaStream_t s);
Stream* resolve(cudaStream_t s);  // nullptr / cudaStreamLegacy -> the current device's legacy
void enqueue(Stream* s, Op op);
cudaError_t flush(Stream* s, uint64_t upto);  // runs s's work up to upto, dependencies first
cudaError_t flush_stream(Stream* s);
cudaError_t flush_device(int device);

// Memory.
struct MemoryOpen {  // opens every arena for reading and writing while it lives (nests)
  MemoryOpen();
  ~MemoryOpen();
  MemoryOpen(const MemoryOpen&) = delete;
  MemoryOpen& operator=(const MemoryOpen&) = delete;
};
int device_of(const void* p);  // the device whose arena holds p, -1 for host memory
// Whether [p, p + bytes) lies inside one live allocation of a device.
bool inside_allocation(const void* p, size_t bytes);
void init_arena(Arena& a, size_t bytes);
void poison_bytes(void* p, size_t bytes);  // not instrumented: may cover sanitizer red zones

double now_ms();
uint64_t seed();
bool quiet();

}  // namespace cuda_sim::detail
