// Compiled instances of the float64 reductions for mrbm's own host code (kernels/reduce_cuda.h),
// from the header-only launchers of kernels/reduce.cuh.
#include "kernels/reduce.cuh"
#include "kernels/reduce_cuda.h"

namespace mrbm::kernels {

cudaError_t sum_all_cuda(double* out, const float* x, int64_t n, void* workspace,
                         size_t workspace_bytes, cudaStream_t stream) {
  return launch_sum_all(out, x, n, workspace, workspace_bytes, stream);
}

cudaError_t row_sums_cuda(double* out, const float* x, int64_t rows, int64_t cols, void* workspace,
                          size_t workspace_bytes, cudaStream_t stream) {
  return launch_row_sums(out, x, rows, cols, workspace, workspace_bytes, stream);
}

cudaError_t sum_all_cuda(double* out, const double* x, int64_t n, void* workspace,
                         size_t workspace_bytes, cudaStream_t stream) {
  return launch_sum_all(out, x, n, workspace, workspace_bytes, stream);
}

cudaError_t row_sums_cuda(double* out, const double* x, int64_t rows, int64_t cols,
                          void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  return launch_row_sums(out, x, rows, cols, workspace, workspace_bytes, stream);
}

cudaError_t col_sums_cuda(double* out, const float* x, int64_t rows, int64_t cols, void* workspace,
                          size_t workspace_bytes, cudaStream_t stream) {
  return launch_col_sums(out, x, rows, cols, workspace, workspace_bytes, stream);
}

cudaError_t row_dot_cuda(double* out, const float* a, const float* b, int64_t rows, int64_t cols,
                         int64_t b_inner, void* workspace, size_t workspace_bytes,
                         cudaStream_t stream) {
  return launch_row_dot(out, a, b, rows, cols, b_inner, workspace, workspace_bytes, stream);
}

cudaError_t bias_grad_cuda(float* grad_bias, const float* g, int64_t rows, int64_t channels,
                           int64_t inner, float alpha, float gamma, void* workspace,
                           size_t workspace_bytes, cudaStream_t stream) {
  return launch_bias_grad(grad_bias, g, rows, channels, inner, alpha, gamma, workspace,
                          workspace_bytes, stream);
}

}  // namespace mrbm::kernels
