// CUDA simulator: what device code sees. Kernels are compiled by the host compiler (the .cu files
// of a simulated build, docs/building.md); each CUDA thread of a block runs in its own context
// (src/block_runner.cpp), so __syncthreads() is a real barrier and a warp shuffle a real exchange.
//
// The qualifiers put an ABI tag on every __device__ and __global__ function. MRBM_HD functions get
// different bodies in device translation units (the __CUDA_ARCH__ branches) and host ones; with
// the tag their mangled names differ, so the linker can never keep the host body for a simulated
// kernel or the device body for a CPU reference (an ODR merge that would go unnoticed). The tag
// also marks the static locals of device functions, which in CUDA can only be __shared__: the
// simulator finds them in the symbol table and poisons them before every block.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_runtime_api.h"

#define __host__
#define __device__ __attribute__((abi_tag("cuda_sim_device")))
#define __global__ __attribute__((abi_tag("cuda_sim_kernel")))
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// Static storage: one block runs at a time, and the simulator refills these bytes with the poison
// before each block. Dynamic shared memory (`extern __shared__`) is not simulated: a kernel that
// declares it does not compile here (mrbm has none). `used`: a variable that is never written
// must stay in memory (and in the symbol table), where the poison is; without it GCC's TSan
// build folded a read of never-written shared memory to 0.0f.
#define __shared__ static __attribute__((used))

namespace cuda_sim::detail {
// Where threadIdx & co live: set by the block runner before it resumes a simulated thread. Plain
// globals, not thread_local: one block runs at a time in the whole process (under the simulator's
// lock), and GCC 12's UndefinedBehaviorSanitizer miscompiles the null check of an extern
// thread_local's address (a branch on stale flags: "member access within null pointer").
extern uint3 t_thread_idx;
extern uint3 t_block_idx;
extern dim3 t_block_dim;
extern dim3 t_grid_dim;

void syncthreads(const char* file, int line);
// Warp exchange of 8 bytes: returns what lane `source_lane(lane)` gave at the same call.
uint64_t shfl_down(unsigned mask, uint64_t bits, unsigned delta, int width, const char* file,
                   int line);
}  // namespace cuda_sim::detail

#define threadIdx (::cuda_sim::detail::t_thread_idx)
#define blockIdx (::cuda_sim::detail::t_block_idx)
#define blockDim (::cuda_sim::detail::t_block_dim)
#define gridDim (::cuda_sim::detail::t_grid_dim)
constexpr int warpSize = 32;

#define __syncthreads() ::cuda_sim::detail::syncthreads(__FILE__, __LINE__)

namespace cuda_sim {
template <class T>
inline T shfl_down_sync(unsigned mask, T value, unsigned delta, int width, const char* file,
                        int line) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8,
                "__shfl_down_sync: a 1 to 8-byte value");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = detail::shfl_down(mask, bits, delta, width, file, line);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace cuda_sim
#define __shfl_down_sync(mask, value, delta, ...) \
  ::cuda_sim::shfl_down_sync(mask, value, delta, cuda_sim_width_(__VA_ARGS__), __FILE__, __LINE__)
// The optional width argument of __shfl_down_sync (default warpSize).
constexpr int cuda_sim_width_() { return 32; }
constexpr int cuda_sim_width_(int width) { return width; }

// atomicAdd: a compare-and-swap loop for the floating-point types, so that it stays atomic even if
// two host threads ran kernels at once (they do not: the simulator runs one block at a time).
// Relaxed, as CUDA's atomics are: they order nothing else. Under ThreadSanitizer (the tsan build)
// a seq_cst add would make every later adder of the same address happen after every earlier one,
// and hide the races of whatever those threads did around it.
template <class T>
inline T cuda_sim_atomic_add(T* address, T value) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomicAdd on a 4 or 8-byte type");
  T old;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  T desired = old + value;
  while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
    desired = old + value;
  }
  return old;
}
inline float atomicAdd(float* address, float value) { return cuda_sim_atomic_add(address, value); }
inline double atomicAdd(double* address, double value) {
  return cuda_sim_atomic_add(address, value);
}
inline int atomicAdd(int* address, int value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}

// Explicitly rounded arithmetic: never contracted into an FMA, as on the GPU. They live out of line
// in src/device_math.cpp, compiled with -ffp-contract=off, because device translation units are
// compiled with contraction on (nvcc's --fmad=true) and would otherwise fuse a * b + c across
// an inlined __fmul_rn / __fadd_rn pair.
float __fadd_rn(float a, float b);
float __fsub_rn(float a, float b);
float __fmul_rn(float a, float b);
float __fdiv_rn(float a, float b);
float __fsqrt_rn(float a);
float __fmaf_rn(float a, float b, float c);
double __dadd_rn(double a, double b);
double __dsub_rn(double a, double b);
double __dmul_rn(double a, double b);
double __ddiv_rn(double a, double b);
double __dsqrt_rn(double a);
double __fma_rn(double a, double b, double c);
