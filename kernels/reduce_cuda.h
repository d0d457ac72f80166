// Host declarations of the compiled CUDA float64 reductions (kernels/reduce.h describes the
// formulas and declares the *_workspace_bytes functions; its *_cpu templates are the references).
// Includes only the CUDA runtime API header, so g++-compiled code can call them. Defined in
// kernels/reduce.cu from the header-only launchers of kernels/reduce.cuh.
// Each takes the arguments of its *_cpu twin (T = float) plus a caller-owned device workspace of at
// least <op>_workspace_bytes(shape) bytes (8-byte aligned; ignored, and may be null, when that size
// is 0) and the stream; device pointers; asynchronous; deterministic (bit-identical on repeated
// runs). Invalid arguments, or a missing or small workspace, return cudaErrorInvalidValue without
// launching. The workspace holds partial sums until the last kernel of the call has run: reuse it
// on the same stream only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace mrbm::kernels {

// out[0] = sum_i x[i]
cudaError_t sum_all_cuda(double* out, const float* x, int64_t n, void* workspace,
                         size_t workspace_bytes, cudaStream_t stream);
// out[r] = sum_c x[r, c]
cudaError_t row_sums_cuda(double* out, const float* x, int64_t rows, int64_t cols, void* workspace,
                          size_t workspace_bytes, cudaStream_t stream);
// float64 inputs (per-sample free energies and losses live in float64 on the device too).
cudaError_t sum_all_cuda(double* out, const double* x, int64_t n, void* workspace,
                         size_t workspace_bytes, cudaStream_t stream);
cudaError_t row_sums_cuda(double* out, const double* x, int64_t rows, int64_t cols,
                          void* workspace, size_t workspace_bytes, cudaStream_t stream);
// out[c] = sum_r x[r, c]
cudaError_t col_sums_cuda(double* out, const float* x, int64_t rows, int64_t cols, void* workspace,
                          size_t workspace_bytes, cudaStream_t stream);
// out[r] = sum_c a[r, c] * b[r, c] (b_inner = kRowDotFullB = 0) or a[r, c] * b[c / b_inner]
cudaError_t row_dot_cuda(double* out, const float* a, const float* b, int64_t rows, int64_t cols,
                         int64_t b_inner, void* workspace, size_t workspace_bytes,
                         cudaStream_t stream);
// grad_bias[ch] = alpha * sum_{r, p} g[r, ch, p] + gamma * grad_bias[ch]
cudaError_t bias_grad_cuda(float* grad_bias, const float* g, int64_t rows, int64_t channels,
                           int64_t inner, float alpha, float gamma, void* workspace,
                           size_t workspace_bytes, cudaStream_t stream);

}  // namespace mrbm::kernels
