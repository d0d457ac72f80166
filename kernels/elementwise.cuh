// CUDA kernels and header-only launchers of the elementwise and bias ops (kernels/elementwise.h
// holds the formulas, the functors and the CPU references axpby_cpu, mul_cpu, scale_cpu, fill_cpu,
// add_bias_cpu). Another CUDA project includes this file (target mrbm::kernel_headers) and calls
// launch_axpby, ...; mrbm itself calls the *_cuda functions of kernels/elementwise_cuda.h, which
// wrap these.
//
// Layout: the 1-D ops run one thread per element in a grid-stride loop over int64 indices (at most
// 65535 blocks of 256 threads; consecutive threads touch consecutive elements, so every access is
// coalesced). add_bias runs a 2-D grid: x strides over the columns of a row, y over the rows; each
// thread computes the bias channel of its column once and reuses it for every row it visits.
// Bytes per element: axpby reads 4 per nonzero coefficient and writes 4; mul reads 8 (12 with
// gamma) and writes 4; fill writes 4; add_bias reads 4 and writes 4 (bias reads hit the cache).
// The launchers validate (cudaErrorInvalidValue without launching), return early when there is
// nothing to write, never synchronize, and return the launch error code.
#pragma once

#include <cuda_runtime.h>

#include "kernels/elementwise.h"
#include "kernels/launch.cuh"

namespace mrbm::kernels {
namespace detail {

constexpr int kElementwiseThreads = 256;
// 65535 blocks of 256 threads fill any current GPU several times over; a grid-stride loop covers
// larger tensors. 65535 is a valid grid.x and grid.y on every architecture.
constexpr int64_t kElementwiseMaxBlocks = 65535;

inline unsigned elementwise_blocks(int64_t count) {
  const int64_t blocks = (count + kElementwiseThreads - 1) / kElementwiseThreads;
  return static_cast<unsigned>(blocks < kElementwiseMaxBlocks ? blocks : kElementwiseMaxBlocks);
}

inline cudaError_t elementwise_cuda_error(Status status) {
  return status == Status::kOk ? cudaSuccess : cudaErrorInvalidValue;
}

// Any functor with MRBM_HD void operator()(int64_t i) const.
template <typename Op>
__global__ void __launch_bounds__(kElementwiseThreads) elementwise_kernel(Op op, int64_t n) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    op(i);
}

template <typename Op>
cudaError_t launch_elementwise_op(const Op& op, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  launch(elementwise_kernel<Op>, elementwise_blocks(n), kElementwiseThreads, 0, stream, op, n);
  return cudaGetLastError();
}

template <typename T>
__global__ void __launch_bounds__(kElementwiseThreads)
    add_bias_kernel(AddBiasOp<T> op, int64_t rows, int64_t cols, int64_t inner) {
  const int64_t col_step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
       c += col_step) {
    const int64_t ch = bias_channel(c, inner);
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) op(r * cols + c, ch);
  }
}

}  // namespace detail

// out = alpha * a + beta * b + gamma * out; same arguments as axpby_cpu plus the stream. Device
// pointers; out may alias a and/or b.
inline cudaError_t launch_axpby(float* out, const float* a, const float* b, int64_t n, float alpha,
                                float beta, float gamma, cudaStream_t stream) {
  const Status status = validate_axpby_args(out, a, b, n, alpha, beta);
  if (status != Status::kOk) return detail::elementwise_cuda_error(status);
  return detail::launch_elementwise_op(AxpbyOp<float>{out, a, b, alpha, beta, gamma}, n, stream);
}

// out = alpha * a * b + gamma * out; same arguments as mul_cpu plus the stream.
inline cudaError_t launch_mul(float* out, const float* a, const float* b, int64_t n, float alpha,
                              float gamma, cudaStream_t stream) {
  const Status status = validate_mul_args(out, a, b, n, alpha);
  if (status != Status::kOk) return detail::elementwise_cuda_error(status);
  return detail::launch_elementwise_op(MulOp<float>{out, a, b, alpha, gamma}, n, stream);
}

// out = alpha * a; same arguments as scale_cpu plus the stream (the axpby kernel).
inline cudaError_t launch_scale(float* out, const float* a, int64_t n, float alpha,
                                cudaStream_t stream) {
  return launch_axpby(out, a, nullptr, n, alpha, 0.0f, 0.0f, stream);
}

// out = value; same arguments as fill_cpu plus the stream.
inline cudaError_t launch_fill(float* out, int64_t n, float value, cudaStream_t stream) {
  const Status status = validate_fill_args(out, n);
  if (status != Status::kOk) return detail::elementwise_cuda_error(status);
  return detail::launch_elementwise_op(FillOp<float>{out, value}, n, stream);
}

// out[r, c] = x[r, c] + bias[c / inner]; same arguments as add_bias_cpu plus the stream.
inline cudaError_t launch_add_bias(float* out, const float* x, const float* bias, int64_t rows,
                                   int64_t channels, int64_t inner, cudaStream_t stream) {
  const Status status = validate_add_bias_args(out, x, bias, rows, channels, inner);
  if (status != Status::kOk) return detail::elementwise_cuda_error(status);
  const int64_t cols = channels * inner;
  if (rows == 0 || cols == 0) return cudaSuccess;
  const int64_t max_blocks = detail::kElementwiseMaxBlocks;
  const dim3 grid(detail::elementwise_blocks(cols),
                  static_cast<unsigned>(rows < max_blocks ? rows : max_blocks));
  launch(detail::add_bias_kernel<float>, grid, detail::kElementwiseThreads, 0, stream,
         AddBiasOp<float>{out, x, bias}, rows, cols, inner);
  return cudaGetLastError();
}

}  // namespace mrbm::kernels
