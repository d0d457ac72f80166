// The CUDA fill of Tensor::fill (core/tensor.cpp) for nonzero values, and the kernel-image probe of
// probe_cuda (core/device.cpp). Formula: out[i] = value for i in [0, n). Paired reference: the
// host loop fill_host in core/tensor.cpp (a formula this small needs no shared MRBM_HD function).
// Grid-stride loop over int64 indices; a grid of at most 4096 blocks of 256 threads covers any n.
#include <cstdint>

#include <cuda_runtime.h>

#include "core/device.h"
#include "kernels/launch.cuh"

namespace mrbm::detail {
namespace {

template <class T>
__global__ void fill_kernel(T* out, T value, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    out[i] = value;
  }
}

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

template <class T>
cudaError_t launch_fill(void* data, double value, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  const auto blocks = static_cast<unsigned>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
  kernels::launch(fill_kernel<T>, blocks, kThreads, 0, stream, static_cast<T*>(data),
                  static_cast<T>(value), n);
  return cudaGetLastError();
}

}  // namespace

int fill_device(void* data, double value, bool is_float64, int64_t n, Stream stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const cudaError_t code =
      is_float64 ? launch_fill<double>(data, value, n, s) : launch_fill<float>(data, value, n, s);
  return static_cast<int>(code);
}

int core_kernel_image_status() {
  cudaFuncAttributes attributes{};
  return static_cast<int>(cudaFuncGetAttributes(&attributes, fill_kernel<float>));
}

}  // namespace mrbm::detail
