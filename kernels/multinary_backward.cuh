// CUDA kernel and header-only launcher of the multinary backward (kernels/multinary_backward.h).
// One thread per element, grid-stride; 4-12 bytes read and 4 written per element.
#pragma once

#include <cuda_runtime.h>

#include "kernels/launch.cuh"
#include "kernels/multinary_backward.h"

namespace mrbm::kernels {
namespace detail {

template <class T>
__global__ void multinary_backward_kernel(MultinaryBackwardArgs<T> a) {
  const int64_t n = a.rows * a.cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    multinary_backward_element(a, i, i / a.cols);
  }
}

}  // namespace detail

template <class T>
inline cudaError_t launch_multinary_backward(const MultinaryBackwardArgs<T>& a,
                                             cudaStream_t stream) {
  if (validate_multinary_backward_args(a) != Status::kOk) return cudaErrorInvalidValue;
  const int64_t n = a.rows * a.cols;
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65536 * 8 ? blocks : 65536 * 8);
  launch(detail::multinary_backward_kernel<T>, grid, kThreads, 0, stream, a);
  return cudaGetLastError();
}

}  // namespace mrbm::kernels
