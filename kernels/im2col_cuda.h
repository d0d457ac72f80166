// Host declarations of the compiled CUDA im2col and col2im (kernels/im2col.h describes the col
// layout and holds the paired CPU references im2col_cpu / col2im_cpu). Includes only the CUDA
// runtime API header, so g++-compiled code can call them. Defined in kernels/im2col.cu from the
// header-only launchers of kernels/im2col.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/conv_shape.h"

namespace mrbm::kernels {

// Same arguments as im2col_cpu / col2im_cpu plus the stream. Device pointers; asynchronous;
// cudaErrorInvalidValue (nothing launched) for an invalid shape or a null pointer of a non-empty
// tensor. float for training, double for gradient checks on the device.
cudaError_t im2col_cuda(float* col, const float* x, const ConvShape& shape, cudaStream_t stream);
cudaError_t im2col_cuda(double* col, const double* x, const ConvShape& shape, cudaStream_t stream);
cudaError_t col2im_cuda(float* x, const float* col, const ConvShape& shape, cudaStream_t stream);
cudaError_t col2im_cuda(double* x, const double* col, const ConvShape& shape, cudaStream_t stream);

}  // namespace mrbm::kernels
