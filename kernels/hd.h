// MRBM_HD: marks a function that is compiled for both host and device.
// Each formula of mrbm lives once in such a function; the CPU reference loop and the CUDA kernel
// both call it (the CPU/GPU pairing rule, docs/architecture.md). Host-compilable: no CUDA headers.
#pragma once

#if defined(__CUDACC__)
#define MRBM_HD __host__ __device__ __forceinline__
#define MRBM_DEVICE_CODE 1
#elif defined(__GNUC__)
// Forced on the host too: the copy-sum helpers are called once per element in the CPU loops, and
// GCC left them out of line (15% of the exact-copies pass in a profile, docs/benchmarks.md).
#define MRBM_HD inline __attribute__((always_inline))
#define MRBM_DEVICE_CODE 0
#else
#define MRBM_HD inline
#define MRBM_DEVICE_CODE 0
#endif
