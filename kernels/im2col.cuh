// CUDA kernels and header-only launchers of im2col and col2im (kernels/im2col.h defines the col
// layout, the formulas and the CPU references im2col_cpu / col2im_cpu). Another CUDA project
// includes this file (target mrbm::kernel_headers) and calls launch_im2col / launch_col2im; mrbm
// itself calls im2col_cuda / col2im_cuda (kernels/im2col_cuda.h), which wrap them.
//
// Layout: one thread per output element in a grid-stride loop (int64 indices), each evaluating the
// same MRBM_HD function as the CPU loop (im2col_element / col2im_element), so im2col is bit-exact
// and col2im adds the same terms in the same order as the CPU. col2im gathers (each pixel sums its
// own contributions) instead of scattering with atomics: deterministic, no memset, no races.
// Bytes: im2col writes 4 bytes per col element (float) and reads each input pixel about
// kh kw / (sh sw) times (mostly from cache); col2im reads each col element once and writes each
// pixel once. Consecutive threads handle consecutive output positions (col columns, image
// columns), so the writes are coalesced.
// The launchers validate, return early on empty outputs, never synchronize, and return the launch
// error code.
#pragma once

#include <cuda_runtime.h>

#include "kernels/im2col.h"
#include "kernels/launch.cuh"

namespace mrbm::kernels {
namespace detail {

constexpr int kIm2colThreads = 256;
// 65535 blocks of 256 threads keep any GPU busy; the grid-stride loop covers larger tensors, and
// 65535 is a valid grid.x on every architecture.
constexpr int64_t kIm2colMaxBlocks = 65535;

template <class T>
__global__ void __launch_bounds__(kIm2colThreads)
    im2col_kernel(T* col, const T* x, ConvShape shape, int64_t count) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < count;
       index += step)
    col[index] = im2col_element(x, shape, index);
}

template <class T>
__global__ void __launch_bounds__(kIm2colThreads)
    col2im_kernel(T* x, const T* col, ConvShape shape, int64_t count) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < count;
       index += step)
    x[index] = col2im_element(col, shape, index);
}

inline unsigned im2col_blocks(int64_t count) {
  const int64_t blocks = (count + kIm2colThreads - 1) / kIm2colThreads;
  return static_cast<unsigned>(blocks < kIm2colMaxBlocks ? blocks : kIm2colMaxBlocks);
}

}  // namespace detail

// col [K, N] from x (device pointers, not overlapping). Same arguments as im2col_cpu plus the
// stream; invalid arguments return cudaErrorInvalidValue without launching.
template <class T>
cudaError_t launch_im2col(T* col, const T* x, const ConvShape& shape, cudaStream_t stream) {
  if (validate_im2col_args(col, x, shape) != Status::kOk) return cudaErrorInvalidValue;
  const int64_t count = conv_col_count(shape);
  if (count == 0) return cudaSuccess;
  launch(detail::im2col_kernel<T>, detail::im2col_blocks(count), detail::kIm2colThreads, 0, stream,
         col, x, shape, count);
  return cudaGetLastError();
}

// x [batch, in_channels, in_h, in_w] from col [K, N] (device pointers, not overlapping); every
// pixel is overwritten. Same arguments as col2im_cpu plus the stream.
template <class T>
cudaError_t launch_col2im(T* x, const T* col, const ConvShape& shape, cudaStream_t stream) {
  if (validate_im2col_args(col, x, shape) != Status::kOk) return cudaErrorInvalidValue;
  const int64_t count = conv_input_count(shape);
  if (count == 0) return cudaSuccess;
  launch(detail::col2im_kernel<T>, detail::im2col_blocks(count), detail::kIm2colThreads, 0, stream,
         x, col, shape, count);
  return cudaGetLastError();
}

}  // namespace mrbm::kernels
