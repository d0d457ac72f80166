// CUDA kernel and header-only launcher of swap_outer_dims (kernels/permute.h holds the formula and
// the CPU reference swap_outer_dims_cpu). Another CUDA project includes this file (target
// mrbm::kernel_headers) and calls launch_swap_outer_dims; mrbm itself calls swap_outer_dims_cuda
// (kernels/permute_cuda.h), which wraps it.
//
// Layout: one thread per output element in a grid-stride loop over int64 indices; the thread
// derives (c, b, q) of out [dim1, dim0, inner] from its flat index and calls the same MRBM_HD
// element function as the CPU loop. Consecutive threads take consecutive q, which is contiguous in
// both in and out, so reads and writes are coalesced whenever inner is not tiny (H * W >= 16 in
// the conv layers). Bytes per element: 4 read and 4 written (8 read with beta != 0) for float; a
// purely bandwidth-bound pass (the int64 divisions are hidden behind the memory traffic).
// The launcher validates, returns early when there is nothing to write, never synchronizes, and
// returns the launch error code.
#pragma once

#include <cuda_runtime.h>

#include "kernels/launch.cuh"
#include "kernels/permute.h"

namespace mrbm::kernels {
namespace detail {

constexpr int kPermuteThreads = 256;
// 65535 blocks of 256 threads fill any current GPU several times over; the grid-stride loop covers
// larger tensors, and 65535 is a valid grid.x on every architecture.
constexpr int64_t kPermuteMaxBlocks = 65535;

template <class T>
__global__ void __launch_bounds__(kPermuteThreads)
    swap_outer_dims_kernel(T* out, const T* in, int64_t dim0, int64_t dim1, int64_t inner, T beta,
                           int64_t count) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < count;
       index += step) {
    const int64_t q = index % inner;
    const int64_t t = index / inner;  // = c * dim0 + b
    const int64_t b = t % dim0;
    const int64_t c = t / dim0;
    swap_outer_dims_element(out, in, dim0, dim1, inner, beta, c, b, q);
  }
}

inline unsigned permute_blocks(int64_t count) {
  const int64_t blocks = (count + kPermuteThreads - 1) / kPermuteThreads;
  return static_cast<unsigned>(blocks < kPermuteMaxBlocks ? blocks : kPermuteMaxBlocks);
}

}  // namespace detail

// out [dim1, dim0, inner] = swap(in [dim0, dim1, inner]) + beta * out (device pointers, not
// overlapping). Same arguments as swap_outer_dims_cpu plus the stream; invalid arguments return
// cudaErrorInvalidValue without launching.
template <class T>
cudaError_t launch_swap_outer_dims(T* out, const T* in, int64_t dim0, int64_t dim1, int64_t inner,
                                   T beta, cudaStream_t stream) {
  if (validate_swap_outer_dims_args(out, in, dim0, dim1, inner) != Status::kOk)
    return cudaErrorInvalidValue;
  const int64_t count = dim0 * dim1 * inner;
  if (count == 0) return cudaSuccess;
  launch(detail::swap_outer_dims_kernel<T>, detail::permute_blocks(count), detail::kPermuteThreads,
         0, stream, out, in, dim0, dim1, inner, beta, count);
  return cudaGetLastError();
}

}  // namespace mrbm::kernels
