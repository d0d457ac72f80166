// Compiled instances of the elementwise and bias ops for mrbm's own host code
// (kernels/elementwise_cuda.h), from the header-only launchers of kernels/elementwise.cuh.
#include "kernels/elementwise.cuh"
#include "kernels/elementwise_cuda.h"

namespace mrbm::kernels {

cudaError_t axpby_cuda(float* out, const float* a, const float* b, int64_t n, float alpha,
                       float beta, float gamma, cudaStream_t stream) {
  return launch_axpby(out, a, b, n, alpha, beta, gamma, stream);
}

cudaError_t mul_cuda(float* out, const float* a, const float* b, int64_t n, float alpha,
                     float gamma, cudaStream_t stream) {
  return launch_mul(out, a, b, n, alpha, gamma, stream);
}

cudaError_t scale_cuda(float* out, const float* a, int64_t n, float alpha, cudaStream_t stream) {
  return launch_scale(out, a, n, alpha, stream);
}

cudaError_t fill_cuda(float* out, int64_t n, float value, cudaStream_t stream) {
  return launch_fill(out, n, value, stream);
}

cudaError_t add_bias_cuda(float* out, const float* x, const float* bias, int64_t rows,
                          int64_t channels, int64_t inner, cudaStream_t stream) {
  return launch_add_bias(out, x, bias, rows, channels, inner, stream);
}

}  // namespace mrbm::kernels
