// Test-only kernels that run one MRBM_HD function of kernels/ on the device, element by element,
// so that a test can compare its device branch with the host branch on the same inputs, without
// the rest of a kernel in between (test/test_device_functions.cpp). CUDA builds only.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace mrbm::test {

// out[i] = kernels::gaussian_sample(mean[i], var[i], n, xi[i]); device pointers; synchronizes.
cudaError_t gaussian_samples_on_device(float* out, const float* mean, const float* var,
                                       const float* xi, float n, int64_t count);

}  // namespace mrbm::test
