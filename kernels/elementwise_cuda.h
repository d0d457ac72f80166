// Host declarations of the compiled CUDA elementwise and bias ops (kernels/elementwise.h describes
// the formulas, the coefficient and aliasing rules; its *_cpu templates are the references).
// Includes only the CUDA runtime API header, so g++-compiled code can call them. Defined in
// kernels/elementwise.cu from the header-only launchers of kernels/elementwise.cuh.
// Each takes the arguments of its *_cpu twin (T = float) plus the stream; device pointers;
// asynchronous; invalid arguments return cudaErrorInvalidValue without launching.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace mrbm::kernels {

// out = alpha * a + beta * b + gamma * out
cudaError_t axpby_cuda(float* out, const float* a, const float* b, int64_t n, float alpha,
                       float beta, float gamma, cudaStream_t stream);
// out = alpha * a * b + gamma * out
cudaError_t mul_cuda(float* out, const float* a, const float* b, int64_t n, float alpha,
                     float gamma, cudaStream_t stream);
// out = alpha * a
cudaError_t scale_cuda(float* out, const float* a, int64_t n, float alpha, cudaStream_t stream);
// out = value
cudaError_t fill_cuda(float* out, int64_t n, float value, cudaStream_t stream);
// out[r, c] = x[r, c] + bias[c / inner], rows x (channels * inner)
cudaError_t add_bias_cuda(float* out, const float* x, const float* bias, int64_t rows,
                          int64_t channels, int64_t inner, cudaStream_t stream);

}  // namespace mrbm::kernels
