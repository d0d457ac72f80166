// CUDA kernels and header-only launchers of the float64 reductions (kernels/reduce.h holds the
// formulas, the launch shape, the workspace sizes and the CPU references). Another CUDA project
// includes this file (target mrbm::kernel_headers) and calls launch_row_sums, ...; mrbm itself
// calls the *_cuda functions of kernels/reduce_cuda.h, which wrap these.
//
// Determinism: no atomics. Every output is the sum of a fixed tree: each thread adds its elements
// in index order, a block adds its threads by a warp-shuffle tree and then its warps in order, and
// partial sums go through the caller's workspace to a second kernel that adds them in order. The
// tree depends on the shape only, so repeated runs (and different GPUs) give bit-identical results.
//
// Row reductions (row_sums, row_dot, sum_all = row_sums of one row): grid (split, min(rows,
// 65535)); block (x, y) sums columns x * 256 + t, stepping by split * 256, of rows y, y + 65535,
// ...: coalesced. split = 1 writes out[r] directly; otherwise the rows x split partials are added
// by row_partials_kernel (one block per row). Bytes: 4 per element read (8 for row_dot with a full
// b), 8 per row written (+ 16 * split per row through the workspace).
//
// Column and channel reductions (col_sums, bias_grad): col_partials_kernel has a thread per
// column per slice of rows (grid (col blocks, slices), coalesced across the columns) and writes
// slices x cols partial sums; channel_sum_kernel (one block per channel) adds, for its channel,
// the inner positions and the slices. With a single slice the channel kernel reads the input
// itself. Bytes: 4 per element read, 8 * slices per column through the workspace, 4 or 8 per
// channel written.
//
// The launchers validate (cudaErrorInvalidValue without launching, also for a missing, small or
// misaligned workspace), return early when there is nothing to write, never synchronize, and
// return the launch error code.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/launch.cuh"
#include "kernels/reduce.h"

namespace mrbm::kernels {
namespace detail {

// 65535 is a valid grid.x and grid.y on every architecture; grid-stride loops cover more.
constexpr int64_t kReduceMaxBlocks = 65535;

inline unsigned reduce_grid_dim(int64_t count) {
  return static_cast<unsigned>(count < kReduceMaxBlocks ? count : kReduceMaxBlocks);
}

inline cudaError_t reduce_cuda_error(Status status) {
  return status == Status::kOk ? cudaSuccess : cudaErrorInvalidValue;
}

inline bool reduce_workspace_ok(const void* workspace, size_t workspace_bytes, size_t needed) {
  if (needed == 0) return true;
  return workspace != nullptr && workspace_bytes >= needed &&
         reinterpret_cast<uintptr_t>(workspace) % alignof(double) == 0;
}

// The block's sum in thread 0 (other threads get a partial value), in a fixed order: a shuffle
// tree within each warp, then the warps in index order. Every thread of the block must call it;
// it ends with a barrier so that warp_sums can be reused at once.
__device__ __forceinline__ double reduce_block_sum(double value, double* warp_sums) {
  for (int delta = 16; delta > 0; delta >>= 1) value += __shfl_down_sync(0xffffffffu, value, delta);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  double total = 0.0;
  if (threadIdx.x == 0) {
    for (int w = 0; w < kReduceThreads / 32; ++w) total += warp_sums[w];
  }
  __syncthreads();
  return total;
}

// dst[r * split + blockIdx.x] = sum of load(r, c) over the columns of block x.
template <typename Load>
__global__ void __launch_bounds__(kReduceThreads)
    row_reduce_kernel(double* dst, Load load, int64_t rows, int64_t cols, int64_t split) {
  __shared__ double warp_sums[kReduceThreads / 32];
  const int64_t step = split * kReduceThreads;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kReduceThreads + threadIdx.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {  // uniform across the block
    double acc = 0.0;
    for (int64_t c = first; c < cols; c += step) acc += load(r, c);
    const double total = reduce_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) dst[r * split + blockIdx.x] = total;
  }
}

// out[r] = sum_j partials[r * split + j]. A template (like every kernel here) so that the header
// may be included by several translation units.
template <typename PartialT>
__global__ void __launch_bounds__(kReduceThreads)
    row_partials_kernel(double* out, const PartialT* partials, int64_t rows, int64_t split) {
  __shared__ double warp_sums[kReduceThreads / 32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {  // uniform across the block
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < split; j += kReduceThreads) acc += partials[r * split + j];
    const double total = reduce_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) out[r] = total;
  }
}

// partials[s * cols + c] = sum of x[r, c] over the rows r of slice s, in row order.
template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    col_partials_kernel(double* partials, const T* x, int64_t rows, int64_t cols,
                        int64_t rows_per_slice, int64_t slices) {
  const int64_t col_step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t s = blockIdx.y; s < slices; s += gridDim.y) {
    const int64_t r_begin = s * rows_per_slice;
    const int64_t r_end = r_begin + rows_per_slice < rows ? r_begin + rows_per_slice : rows;
    for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
         c += col_step) {
      double acc = 0.0;
      for (int64_t r = r_begin; r < r_end; ++r) acc += static_cast<double>(x[r * cols + c]);
      partials[s * cols + c] = acc;
    }
  }
}

// output(ch, sum over r < src_rows and p < inner of src[(r * channels + ch) * inner + p]).
template <typename SrcT, typename OutT>
__global__ void __launch_bounds__(kReduceThreads)
    channel_sum_kernel(ChannelOutput<OutT> output, const SrcT* src, int64_t src_rows,
                       int64_t channels, int64_t inner) {
  __shared__ double warp_sums[kReduceThreads / 32];
  for (int64_t ch = blockIdx.x; ch < channels; ch += gridDim.x) {  // uniform across the block
    double acc = 0.0;
    for (int64_t r = 0; r < src_rows; ++r) {
      const SrcT* plane = src + (r * channels + ch) * inner;
      for (int64_t p = threadIdx.x; p < inner; p += kReduceThreads)
        acc += static_cast<double>(plane[p]);
    }
    const double total = reduce_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) output(ch, total);
  }
}

// out[r] = sum_c load(r, c) for rows x cols; workspace already checked.
template <typename Load>
cudaError_t launch_row_reduce(double* out, const Load& load, int64_t rows, int64_t cols,
                              void* workspace, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  const int64_t split = row_reduce_split(cols);
  double* partials = split > 1 ? static_cast<double*>(workspace) : out;
  const dim3 grid(static_cast<unsigned>(split), reduce_grid_dim(rows));
  launch(row_reduce_kernel<Load>, grid, kReduceThreads, 0, stream, partials, load, rows, cols,
         split);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess || split == 1) return err;
  launch(row_partials_kernel<double>, reduce_grid_dim(rows), kReduceThreads, 0, stream, out,
         partials, rows, split);
  return cudaGetLastError();
}

// output(ch, sum over rows and inner positions of x) for x rows x (channels * inner); workspace
// already checked against col_sums_workspace_bytes(rows, channels * inner).
template <typename T, typename OutT>
cudaError_t launch_channel_reduce(ChannelOutput<OutT> output, const T* x, int64_t rows,
                                  int64_t channels, int64_t inner, void* workspace,
                                  cudaStream_t stream) {
  if (channels == 0) return cudaSuccess;
  const int64_t cols = channels * inner;
  const ColReducePlan plan = col_reduce_plan(rows, cols);
  if (plan.slices == 1) {
    launch(channel_sum_kernel<T, OutT>, reduce_grid_dim(channels), kReduceThreads, 0, stream,
           output, x, rows, channels, inner);
    return cudaGetLastError();
  }
  double* partials = static_cast<double*>(workspace);
  const int64_t col_blocks = (cols + kReduceThreads - 1) / kReduceThreads;
  const dim3 grid(reduce_grid_dim(col_blocks), reduce_grid_dim(plan.slices));
  launch(col_partials_kernel<T>, grid, kReduceThreads, 0, stream, partials, x, rows, cols,
         plan.rows_per_slice, plan.slices);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  launch(channel_sum_kernel<double, OutT>, reduce_grid_dim(channels), kReduceThreads, 0, stream,
         output, partials, plan.slices, channels, inner);
  return cudaGetLastError();
}

}  // namespace detail

// out[r] = sum_c x[r, c]; same arguments as row_sums_cpu plus the workspace
// (row_sums_workspace_bytes(rows, cols) bytes) and the stream.
// T = float, or double (per-sample free energies and losses are float64 on the device too).
template <typename T>
inline cudaError_t launch_row_sums(double* out, const T* x, int64_t rows, int64_t cols,
                                   void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const Status status = validate_row_sums_args(out, x, rows, cols);
  if (status != Status::kOk) return detail::reduce_cuda_error(status);
  if (!detail::reduce_workspace_ok(workspace, workspace_bytes,
                                   row_sums_workspace_bytes(rows, cols)))
    return cudaErrorInvalidValue;
  return detail::launch_row_reduce(out, RowSumLoad<T>{x, cols}, rows, cols, workspace, stream);
}

// out[0] = sum_i x[i]; same arguments as sum_all_cpu plus the workspace
// (sum_all_workspace_bytes(n) bytes) and the stream.
template <typename T>
inline cudaError_t launch_sum_all(double* out, const T* x, int64_t n, void* workspace,
                                  size_t workspace_bytes, cudaStream_t stream) {
  if (n < 0 || !out) return cudaErrorInvalidValue;
  return launch_row_sums(out, x, 1, n, workspace, workspace_bytes, stream);
}

// out[r] = sum_c a[r, c] * b[r, c] or a[r, c] * b[c / b_inner]; same arguments as row_dot_cpu
// plus the workspace (row_dot_workspace_bytes(rows, cols) bytes) and the stream.
inline cudaError_t launch_row_dot(double* out, const float* a, const float* b, int64_t rows,
                                  int64_t cols, int64_t b_inner, void* workspace,
                                  size_t workspace_bytes, cudaStream_t stream) {
  const Status status = validate_row_dot_args(out, a, b, rows, cols, b_inner);
  if (status != Status::kOk) return detail::reduce_cuda_error(status);
  if (!detail::reduce_workspace_ok(workspace, workspace_bytes, row_dot_workspace_bytes(rows, cols)))
    return cudaErrorInvalidValue;
  return detail::launch_row_reduce(out, RowDotLoad<float>{a, b, cols, b_inner}, rows, cols,
                                   workspace, stream);
}

// out[c] = sum_r x[r, c]; same arguments as col_sums_cpu plus the workspace
// (col_sums_workspace_bytes(rows, cols) bytes) and the stream.
inline cudaError_t launch_col_sums(double* out, const float* x, int64_t rows, int64_t cols,
                                   void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const Status status = validate_col_sums_args(out, x, rows, cols);
  if (status != Status::kOk) return detail::reduce_cuda_error(status);
  if (!detail::reduce_workspace_ok(workspace, workspace_bytes,
                                   col_sums_workspace_bytes(rows, cols)))
    return cudaErrorInvalidValue;
  return detail::launch_channel_reduce(ChannelOutput<double>{out, 1.0, 0.0}, x, rows, cols, 1,
                                       workspace, stream);
}

// grad_bias[ch] = alpha * sum_{r, p} g[r, ch, p] + gamma * grad_bias[ch]; same arguments as
// bias_grad_cpu plus the workspace (bias_grad_workspace_bytes(rows, channels, inner) bytes) and
// the stream.
inline cudaError_t launch_bias_grad(float* grad_bias, const float* g, int64_t rows,
                                    int64_t channels, int64_t inner, float alpha, float gamma,
                                    void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const Status status = validate_bias_grad_args(grad_bias, g, rows, channels, inner, alpha);
  if (status != Status::kOk) return detail::reduce_cuda_error(status);
  const int64_t summed_rows = alpha != 0.0f ? rows : 0;  // alpha = 0: g is not read
  if (!detail::reduce_workspace_ok(workspace, workspace_bytes,
                                   bias_grad_workspace_bytes(summed_rows, channels, inner)))
    return cudaErrorInvalidValue;
  const ChannelOutput<float> output{grad_bias, static_cast<double>(alpha),
                                    static_cast<double>(gamma)};
  return detail::launch_channel_reduce(output, g, summed_rows, channels, inner, workspace, stream);
}

}  // namespace mrbm::kernels
