// swap_outer_dims: exchange the two outer dimensions of a 3-D array, with an optional accumulate.
// The NCHW <-> [C, B, H, W] permute of the im2col convolutions (core/conv.cpp, kernels/im2col.h):
// one GEMM over the whole batch produces (or needs) [channels, batch * positions], while tensors
// are NCHW [batch, channels, positions]; the permute between the two costs one read and one write
// of the output, against the GEMM's 2 K flops per output element (K = in_channels * kh * kw).
//
//   in  [dim0, dim1, inner]  (row-major, contiguous)
//   out [dim1, dim0, inner]
//   out[(c * dim0 + b) * inner + q] = in[(b * dim1 + c) * inner + q] + beta * out[...]
//
// NCHW -> CNHW is (dim0, dim1, inner) = (batch, channels, H * W); CNHW -> NCHW is (channels, batch,
// H * W). dim0 = 1 (or dim1 = 1) is a plain copy, which makes this the "out = in + beta * out" of
// the conv paths that accumulate (beta = 1: backward passes add into gradients).
// beta == 0 means out is not read (NaN or garbage in it is ignored, as BLAS does for beta = 0).
// in and out must not overlap.
//
// Rounding: in + beta * out is one multiply and one add, each rounded in T (the device uses the
// __*_rn intrinsics so that nvcc does not contract them into an FMA): the CUDA result equals the
// CPU result bit for bit. With beta = 0 or 1 the multiply is exact anyway.
//
// This header holds the index formula (MRBM_HD, shared with the CUDA kernel of kernels/permute.cuh)
// and the CPU version swap_outer_dims_cpu, the paired reference of swap_outer_dims_cuda
// (kernels/permute_cuda.h).
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/rounded.h"
#include "kernels/status.h"

namespace mrbm::kernels {
namespace detail {

// value + beta old, the product and the sum rounded separately on both devices (kernels/rounded.h).
template <class T>
MRBM_HD T permute_blend(T value, T beta, T old) {
  return rounded_add(value, rounded_mul(beta, old));
}

}  // namespace detail

// Element (c, b, q) of out [dim1, dim0, inner]: out[(c dim0 + b) inner + q] = in[(b dim1 + c)
// inner + q] + beta * out[...] (out not read when beta == 0). The CPU loop visits (c, b, q) in
// nested loops; the CUDA kernel derives them from a flat output index.
template <class T>
MRBM_HD void swap_outer_dims_element(T* out, const T* in, int64_t dim0, int64_t dim1, int64_t inner,
                                     T beta, int64_t c, int64_t b, int64_t q) {
  const int64_t out_index = (c * dim0 + b) * inner + q;
  const T value = in[(b * dim1 + c) * inner + q];
  out[out_index] = beta == T(0) ? value : detail::permute_blend(value, beta, out[out_index]);
}

// Sizes >= 0, the element count fits int64_t, and both pointers set when it is nonzero.
inline Status validate_swap_outer_dims_args(const void* out, const void* in, int64_t dim0,
                                            int64_t dim1, int64_t inner) {
  if (dim0 < 0 || dim1 < 0 || inner < 0) return Status::kInvalidArgument;
  if (dim0 == 0 || dim1 == 0 || inner == 0) return Status::kOk;
  if (dim1 > INT64_MAX / dim0 || inner > INT64_MAX / (dim0 * dim1)) return Status::kInvalidArgument;
  if (out == nullptr || in == nullptr) return Status::kInvalidArgument;
  return Status::kOk;
}

// Rows c in [c_begin, c_end) of out [dim1, dim0, inner] = swap(in [dim0, dim1, inner]) + beta *
// out: the same values as swap_outer_dims_element, a contiguous run of inner values at a time
// (one flat run when dim0 == 1: the layouts then coincide). Each row of out is written by one call,
// so callers may split c over threads.
template <class T>
Status swap_outer_dims_cpu_rows(T* out, const T* in, int64_t dim0, int64_t dim1, int64_t inner,
                                T beta, int64_t c_begin, int64_t c_end) {
  const Status status = validate_swap_outer_dims_args(out, in, dim0, dim1, inner);
  if (status != Status::kOk) return status;
  if (c_begin < 0 || c_end > dim1 || c_begin > c_end) return Status::kInvalidArgument;
  auto run = [beta](T* o, const T* i, int64_t n) {
    if (beta == T(0)) {
      for (int64_t q = 0; q < n; ++q) o[q] = i[q];
    } else {
      for (int64_t q = 0; q < n; ++q) o[q] = detail::permute_blend(i[q], beta, o[q]);
    }
  };
  if (dim0 == 1) {
    run(out + c_begin * inner, in + c_begin * inner, (c_end - c_begin) * inner);
    return Status::kOk;
  }
  for (int64_t c = c_begin; c < c_end; ++c)
    for (int64_t b = 0; b < dim0; ++b)
      run(out + (c * dim0 + b) * inner, in + (b * dim1 + c) * inner, inner);
  return Status::kOk;
}

// out [dim1, dim0, inner] = swap(in [dim0, dim1, inner]) + beta * out.
template <class T>
Status swap_outer_dims_cpu(T* out, const T* in, int64_t dim0, int64_t dim1, int64_t inner, T beta) {
  return swap_outer_dims_cpu_rows(out, in, dim0, dim1, inner, beta, 0, dim1);
}

}  // namespace mrbm::kernels
