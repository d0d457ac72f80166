// Test-only kernels (test/device/device_functions.h).
#include "test/device/device_functions.h"

#include "kernels/launch.cuh"
#include "kernels/multinary_sample.h"

namespace mrbm::test {
namespace {

__global__ void gaussian_samples_kernel(float* out, const float* mean, const float* var,
                                        const float* xi, float n, int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = kernels::gaussian_sample(mean[i], var[i], n, xi[i]);
}

}  // namespace

cudaError_t gaussian_samples_on_device(float* out, const float* mean, const float* var,
                                       const float* xi, float n, int64_t count) {
  if (count <= 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((count + 255) / 256);
  kernels::launch(gaussian_samples_kernel, blocks, 256, 0, nullptr, out, mean, var, xi, n, count);
  const cudaError_t launched = cudaGetLastError();
  return launched != cudaSuccess ? launched : cudaDeviceSynchronize();
}

}  // namespace mrbm::test
