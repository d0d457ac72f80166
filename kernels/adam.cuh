// The fused multi-tensor Adam kernel and its header-only launcher (kernels/adam.h describes the
// step). Another CUDA project includes this file (target mrbm::kernel_headers) and calls
// launch_adam_step(list, hyper, step, stream); mrbm itself calls adam_step_cuda
// (kernels/adam_cuda.h), which wraps it. Paired reference: adam_step_cpu.
//
// Descriptors by value, no workspace: the launcher packs up to kAdamMaxTensorsPerLaunch (64)
// tensor slices, a prefix sum of their block counts and the step's constants into one kernel
// parameter struct (2856 bytes; CUDA 11.x allows 4 KB of kernel parameters). Passing them by
// value needs no device buffer, no host-to-device copy (a pageable cudaMemcpyAsync may synchronize)
// and stays valid under CUDA graph capture. A list of at most 64 tensors (each under 2^24 elements)
// is one launch; longer lists, and tensors split into 2^24-element slices, take one launch per 64
// slices, back to back on the stream (elementwise, so the split changes no result).
//
// Layout: block b of a launch finds its slice k by binary search in block_start
// (block_start[k] <= b < block_start[k+1]; the search is uniform across the block and reads the
// constant bank) and updates elements [(b - block_start[k]) * 1024, +1024) of it: kAdamItems
// elements per thread, consecutive threads on consecutive elements (coalesced).
// Bytes per element: 16 read (param, m, v, grad) + 12 written (param, m, v).
// The launcher never synchronizes; it returns the first launch error.
#pragma once

#include <cuda_runtime.h>

#include "kernels/adam.h"
#include "kernels/launch.cuh"

namespace mrbm::kernels {
namespace detail {

constexpr int kAdamThreads = 256;
constexpr int kAdamItems = 4;
constexpr int64_t kAdamBlockElements = static_cast<int64_t>(kAdamThreads) * kAdamItems;
constexpr int kAdamMaxTensorsPerLaunch = 64;
// Slices of at most 2^24 elements: 2^14 blocks each, at most 2^20 blocks per launch, so block
// indices and the block prefix sums fit int32 with room to spare.
constexpr int64_t kAdamMaxSliceElements = int64_t{1} << 24;

struct AdamLaunchParams {
  AdamTensor tensors[kAdamMaxTensorsPerLaunch];       // slices, pointers already offset
  int32_t block_start[kAdamMaxTensorsPerLaunch + 1];  // prefix sums of blocks per slice
  int32_t count;                                      // slices in use, 1..64
  AdamStepScalars scalars;
};
static_assert(sizeof(AdamLaunchParams) <= 4096, "CUDA 11.x limits kernel parameters to 4 KB");

// A template so that the kernel may be defined in a header included by several translation units.
template <int kThreads = kAdamThreads>
__global__ void __launch_bounds__(kThreads) adam_step_kernel(const AdamLaunchParams p) {
  static_assert(kThreads * kAdamItems == kAdamBlockElements,
                "the launcher counts blocks of this size");
  const int32_t block = static_cast<int32_t>(blockIdx.x);
  int lo = 0;  // invariant: block_start[lo] <= block < block_start[hi + 1]
  int hi = p.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (p.block_start[mid] <= block) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const AdamTensor t = p.tensors[lo];  // a copy: no address of the parameter struct is taken
  const int64_t start = static_cast<int64_t>(block - p.block_start[lo]) * kThreads * kAdamItems;
#pragma unroll
  for (int j = 0; j < kAdamItems; ++j) {
    const int64_t i = start + static_cast<int64_t>(j) * kThreads + threadIdx.x;
    if (i < t.size) {
      float param = t.param[i];
      float m = t.m[i];
      float v = t.v[i];
      adam_update_element(param, m, v, t.grad[i], p.scalars);
      t.param[i] = param;
      t.m[i] = m;
      t.v[i] = v;
    }
  }
}

inline cudaError_t launch_adam_batch(const AdamLaunchParams& p, cudaStream_t stream) {
  launch(adam_step_kernel<>, static_cast<unsigned>(p.block_start[p.count]), kAdamThreads, 0, stream,
         p);
  return cudaGetLastError();
}

}  // namespace detail

// Validates (invalid arguments return cudaErrorInvalidValue without launching), then launches
// ceil(slices / 64) kernels on `stream` (none for an empty list or only zero-size tensors).
// The descriptors are read on the host during this call; the pointers in them are device memory.
inline cudaError_t launch_adam_step(const AdamTensorList& list, const AdamHyper& hyper,
                                    int64_t step, cudaStream_t stream) {
  if (validate_adam_step(list, hyper, step) != Status::kOk) return cudaErrorInvalidValue;
  detail::AdamLaunchParams p{};
  p.scalars = adam_step_scalars<float>(hyper, step);
  p.count = 0;
  p.block_start[0] = 0;
  for (int64_t k = 0; k < list.count; ++k) {
    const AdamTensor& t = list.tensors[k];
    for (int64_t offset = 0; offset < t.size; offset += detail::kAdamMaxSliceElements) {
      const int64_t rest = t.size - offset;
      const int64_t n = rest < detail::kAdamMaxSliceElements ? rest : detail::kAdamMaxSliceElements;
      AdamTensor& slice = p.tensors[p.count];
      slice.param = t.param + offset;
      slice.m = t.m + offset;
      slice.v = t.v + offset;
      slice.grad = t.grad + offset;
      slice.size = n;
      const int64_t blocks = (n + detail::kAdamBlockElements - 1) / detail::kAdamBlockElements;
      p.block_start[p.count + 1] = p.block_start[p.count] + static_cast<int32_t>(blocks);
      ++p.count;
      if (p.count == detail::kAdamMaxTensorsPerLaunch) {
        const cudaError_t err = detail::launch_adam_batch(p, stream);
        if (err != cudaSuccess) return err;
        p.count = 0;
      }
    }
  }
  if (p.count > 0) return detail::launch_adam_batch(p, stream);
  return cudaSuccess;
}

}  // namespace mrbm::kernels
