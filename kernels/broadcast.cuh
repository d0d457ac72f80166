// CUDA kernel and header-only launcher of the broadcast product (kernels/broadcast.h).
// One thread per element, grid-stride.
#pragma once

#include <cuda_runtime.h>

#include "kernels/broadcast.h"
#include "kernels/launch.cuh"

namespace mrbm::kernels {
namespace detail {

template <class T>
__global__ void broadcast_product_kernel(BroadcastProductArgs<T> a) {
  const int64_t n = a.rows * a.cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    broadcast_product_element(a, i);
  }
}

}  // namespace detail

template <class T>
inline cudaError_t launch_broadcast_product(const BroadcastProductArgs<T>& a, cudaStream_t stream) {
  if (validate_broadcast_product_args(a) != Status::kOk) return cudaErrorInvalidValue;
  const int64_t n = a.rows * a.cols;
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65536 * 8 ? blocks : 65536 * 8);
  launch(detail::broadcast_product_kernel<T>, grid, kThreads, 0, stream, a);
  return cudaGetLastError();
}

}  // namespace mrbm::kernels
