// Host declarations of the compiled CUDA swap_outer_dims (kernels/permute.h holds the formula and
// the paired CPU reference swap_outer_dims_cpu). Includes only the CUDA runtime API header, so
// g++-compiled code can call them. Defined in kernels/permute.cu from the header-only launcher of
// kernels/permute.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace mrbm::kernels {

// out [dim1, dim0, inner] = swap(in [dim0, dim1, inner]) + beta * out. Same arguments as
// swap_outer_dims_cpu plus the stream. Device pointers, not overlapping; asynchronous;
// cudaErrorInvalidValue (nothing launched) for a negative size, an overflowing count or a null
// pointer of a non-empty array. float for training, double for gradient checks on the device.
cudaError_t swap_outer_dims_cuda(float* out, const float* in, int64_t dim0, int64_t dim1,
                                 int64_t inner, float beta, cudaStream_t stream);
cudaError_t swap_outer_dims_cuda(double* out, const double* in, int64_t dim0, int64_t dim1,
                                 int64_t inner, double beta, cudaStream_t stream);

}  // namespace mrbm::kernels
