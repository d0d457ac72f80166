// CUDA kernel and header-only launcher of the fused multinary pass (kernels/multinary.h).
// Another CUDA project includes this file (target mrbm::kernel_headers) and calls
// launch_multinary_forward(args, stream); mrbm itself calls multinary_forward_cuda
// (kernels/multinary_cuda.h), which wraps it. Paired reference: multinary_forward_cpu.
//
// Layout: grid.x covers the columns of a row in chunks of kThreads * kItems, grid.y strides over
// the rows. Each thread evaluates kItems elements of one row (coalesced: consecutive threads read
// consecutive columns), and the block sums Phi in float64. A row of one block stores its sum in
// row_phi; a row of several blocks stores one partial per block in args.row_partials, and a second
// kernel adds them in block order (the same bits on every run), or, without row_partials, each
// block adds its partial to row_phi with an atomic (order-dependent in the last bits; issue 12, 6g).
// Bytes per element: 4 read (x) + 4 per float output written; row_phi adds 8 bytes per row (16 per
// block and row with partials).
// The launcher never synchronizes; it returns the launch error code.
#pragma once

#include <cuda_runtime.h>

#include "kernels/launch.cuh"
#include "kernels/multinary.h"

namespace mrbm::kernels {
namespace detail {

constexpr int kMultinaryThreads = 256;
constexpr int kMultinaryItems = 4;
constexpr int64_t kMaxGridY = 65535;
static_assert(kMultinaryThreads * kMultinaryItems == kMultinaryColumnsPerBlock,
              "kernels/multinary.h sizes row_partials with kMultinaryColumnsPerBlock");

__device__ __forceinline__ double block_sum(double value, double* warp_sums) {
  for (int delta = 16; delta > 0; delta >>= 1) value += __shfl_down_sync(0xffffffffu, value, delta);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  double total = 0.0;
  if (threadIdx.x == 0) {
    for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) total += warp_sums[w];
  }
  __syncthreads();  // warp_sums is reused by the next row
  return total;
}

// A template so that the kernel may be defined in a header included by several translation units.
template <int kThreads = kMultinaryThreads>
__global__ void __launch_bounds__(kThreads) multinary_forward_kernel(MultinaryArgs a) {
  __shared__ double warp_sums[kThreads / 32];
  const int64_t chunk_start = static_cast<int64_t>(blockIdx.x) * kThreads * kMultinaryItems;
  const UnitConstants k = unit_constants(a.unit);
  for (int64_t r = blockIdx.y; r < a.rows; r += gridDim.y) {
    const int64_t row_start = r * a.cols;
    double phi = 0.0;
#pragma unroll
    for (int j = 0; j < kMultinaryItems; ++j) {
      const int64_t c = chunk_start + static_cast<int64_t>(j) * kThreads + threadIdx.x;
      if (c < a.cols) phi += multinary_element(a, k, row_start + c, c);
    }
    if (a.row_phi) {
      const double total = block_sum(phi, warp_sums);
      if (threadIdx.x == 0) {
        if (gridDim.x == 1) {
          a.row_phi[r] = total;
        } else if (a.row_partials) {
          a.row_partials[r * gridDim.x + blockIdx.x] = total;
        } else {
          atomicAdd(a.row_phi + r, total);
        }
      }
    }
  }
}

// row_phi[r] = the row's block partials added in block order (one thread per row).
__global__ void multinary_row_partials_kernel(double* row_phi, const double* partials,
                                              int64_t rows, int64_t blocks) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += step) {
    double sum = 0.0;
    for (int64_t b = 0; b < blocks; ++b) sum += partials[r * blocks + b];
    row_phi[r] = sum;
  }
}

inline cudaError_t to_cuda_error(Status status) {
  return status == Status::kOk ? cudaSuccess : cudaErrorInvalidValue;
}

}  // namespace detail

// Validates, launches, and adds the row partials when the rows span several blocks. row_phi is
// cleared first where the kernel accumulates into it (rows of several blocks without
// row_partials) or writes nothing (no columns). Invalid arguments return cudaErrorInvalidValue
// without launching. A kLogitCopies unit's table must be device memory.
inline cudaError_t launch_multinary_forward(const MultinaryArgs& a, cudaStream_t stream) {
  const cudaError_t valid = detail::to_cuda_error(validate_multinary_args(a));
  if (valid != cudaSuccess) return valid;
  const int64_t blocks_x = (a.cols + kMultinaryColumnsPerBlock - 1) / kMultinaryColumnsPerBlock;
  const bool partials = a.row_phi && a.row_partials && blocks_x > 1;
  if (a.row_phi && a.rows > 0 && (a.cols == 0 || (blocks_x > 1 && !partials))) {
    const cudaError_t err = cudaMemsetAsync(a.row_phi, 0, sizeof(double) * a.rows, stream);
    if (err != cudaSuccess) return err;
  }
  if (a.rows == 0 || a.cols == 0) return cudaSuccess;
  if (blocks_x > 0x7fffffff) return cudaErrorInvalidConfiguration;
  const dim3 grid(static_cast<unsigned>(blocks_x),
                  static_cast<unsigned>(a.rows < detail::kMaxGridY ? a.rows : detail::kMaxGridY));
  launch(detail::multinary_forward_kernel<>, grid, detail::kMultinaryThreads, 0, stream, a);
  if (!partials) return cudaGetLastError();
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess) return launched;
  constexpr int kThreads = 256;
  const int64_t blocks = (a.rows + kThreads - 1) / kThreads;
  launch(detail::multinary_row_partials_kernel, static_cast<unsigned>(blocks < 65535 ? blocks : 65535),
         kThreads, 0, stream, a.row_phi, static_cast<const double*>(a.row_partials), a.rows,
         blocks_x);
  return cudaGetLastError();
}

}  // namespace mrbm::kernels
