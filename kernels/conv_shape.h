// ConvShape: the sizes of one 2-D convolution and of its adjoint (docs/math.md section 4).
//
// conv2d, NCHW, cross-correlation as in PyTorch (no kernel flip), no bias:
//   x      [batch, in_channels, in_h, in_w]
//   weight [out_channels, in_channels, kernel_h, kernel_w]
//   y      [batch, out_channels, out_h, out_w]
//   y[b, co, oh, ow] = sum_{ci, i, j} weight[co, ci, i, j] * x[b, ci, oh*stride_h - pad_h + i,
//                                                                  ow*stride_w - pad_w + j]
//   (x read outside [0, in_h) x [0, in_w) is zero: the padding),
//   out_h = (in_h + 2 pad_h - kernel_h) / stride_h + 1, likewise out_w.
// conv_transpose2d is the adjoint of conv2d with the SAME ConvShape: it maps [batch, out_channels,
// out_h, out_w] to [batch, in_channels, in_h, in_w]. This is PyTorch's conv_transpose2d with the
// explicit output size (in_h, in_w), which is needed because out_h does not determine in_h when
// stride > 1 (rows that no window reaches get 0).
//
// Shared by the CPU references (kernels/conv_reference.h), im2col/col2im (kernels/im2col.h) and
// their CUDA kernels (kernels/im2col.cuh): everything here is MRBM_HD and host-compilable.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/status.h"

namespace mrbm::kernels {

struct ConvShape {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t in_h = 0;
  int64_t in_w = 0;
  int64_t out_channels = 0;
  int64_t kernel_h = 1;
  int64_t kernel_w = 1;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  int64_t pad_h = 0;
  int64_t pad_w = 0;
  int64_t out_h = 0;  // derived: make_conv_shape computes it, validate_conv_shape checks it
  int64_t out_w = 0;
};

// Output extent of one spatial dimension; 0 when the padded input is smaller than the kernel or
// the arguments are invalid (so that make_conv_shape never divides by zero; validation rejects it).
MRBM_HD int64_t conv_out_extent(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  if (in < 0 || kernel < 1 || stride < 1 || pad < 0 || in + 2 * pad < kernel) return 0;
  return (in + 2 * pad - kernel) / stride + 1;
}

inline ConvShape make_conv_shape(int64_t batch, int64_t in_channels, int64_t in_h, int64_t in_w,
                                 int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                 int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w) {
  ConvShape s;
  s.batch = batch;
  s.in_channels = in_channels;
  s.in_h = in_h;
  s.in_w = in_w;
  s.out_channels = out_channels;
  s.kernel_h = kernel_h;
  s.kernel_w = kernel_w;
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  s.pad_h = pad_h;
  s.pad_w = pad_w;
  s.out_h = conv_out_extent(in_h, kernel_h, stride_h, pad_h);
  s.out_w = conv_out_extent(in_w, kernel_w, stride_w, pad_w);
  return s;
}

// Element counts. validate_conv_shape guarantees that none of them overflows int64_t.
MRBM_HD int64_t conv_input_count(const ConvShape& s) {  // x: batch * in_channels * in_h * in_w
  return s.batch * s.in_channels * s.in_h * s.in_w;
}
MRBM_HD int64_t conv_output_count(const ConvShape& s) {  // y: batch * out_channels * out_h * out_w
  return s.batch * s.out_channels * s.out_h * s.out_w;
}
MRBM_HD int64_t conv_weight_count(const ConvShape& s) {  // out_channels * in_channels * kh * kw
  return s.out_channels * s.in_channels * s.kernel_h * s.kernel_w;
}
// The im2col matrix (kernels/im2col.h): col_rows = in_channels * kh * kw (the GEMM's inner size),
// col_cols = batch * out_h * out_w (all output positions of the whole batch).
MRBM_HD int64_t conv_col_rows(const ConvShape& s) {
  return s.in_channels * s.kernel_h * s.kernel_w;
}
MRBM_HD int64_t conv_col_cols(const ConvShape& s) { return s.batch * s.out_h * s.out_w; }
MRBM_HD int64_t conv_col_count(const ConvShape& s) { return conv_col_rows(s) * conv_col_cols(s); }

namespace detail {

// a * b for a, b >= 0, or -1 when the product does not fit int64_t.
inline int64_t checked_mul(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return -1;
  if (a != 0 && b > INT64_MAX / a) return -1;
  return a * b;
}

inline int64_t checked_product(int64_t a, int64_t b, int64_t c, int64_t d) {
  const int64_t ab = checked_mul(a, b);
  const int64_t abc = ab < 0 ? -1 : checked_mul(ab, c);
  return abc < 0 ? -1 : checked_mul(abc, d);
}

}  // namespace detail

// kOk when: batch, channels, in_h, in_w >= 0 (0 gives empty tensors); kernel and stride >= 1;
// pad >= 0; the padded input holds at least one window (in + 2 pad >= kernel); out_h/out_w equal
// the formula (a hand-filled shape must be consistent); every element count fits int64_t.
// Padding >= kernel is allowed (PyTorch allows it too): the outer outputs are then 0.
inline Status validate_conv_shape(const ConvShape& s) {
  if (s.batch < 0 || s.in_channels < 0 || s.out_channels < 0 || s.in_h < 0 || s.in_w < 0)
    return Status::kInvalidArgument;
  if (s.kernel_h < 1 || s.kernel_w < 1 || s.stride_h < 1 || s.stride_w < 1 || s.pad_h < 0 ||
      s.pad_w < 0)
    return Status::kInvalidArgument;
  // Bound the spatial sizes first so that in + 2 pad below cannot overflow.
  constexpr int64_t kMaxExtent = int64_t{1} << 40;
  if (s.in_h > kMaxExtent || s.in_w > kMaxExtent || s.pad_h > kMaxExtent || s.pad_w > kMaxExtent ||
      s.kernel_h > kMaxExtent || s.kernel_w > kMaxExtent)
    return Status::kInvalidArgument;
  if (s.in_h + 2 * s.pad_h < s.kernel_h || s.in_w + 2 * s.pad_w < s.kernel_w)
    return Status::kInvalidArgument;
  if (s.out_h != conv_out_extent(s.in_h, s.kernel_h, s.stride_h, s.pad_h) ||
      s.out_w != conv_out_extent(s.in_w, s.kernel_w, s.stride_w, s.pad_w))
    return Status::kInvalidArgument;
  using detail::checked_product;
  if (checked_product(s.batch, s.in_channels, s.in_h, s.in_w) < 0 ||
      checked_product(s.batch, s.out_channels, s.out_h, s.out_w) < 0 ||
      checked_product(s.out_channels, s.in_channels, s.kernel_h, s.kernel_w) < 0)
    return Status::kInvalidArgument;
  const int64_t col_rows = checked_product(s.in_channels, s.kernel_h, s.kernel_w, 1);
  const int64_t col_cols = checked_product(s.batch, s.out_h, s.out_w, 1);
  if (col_rows < 0 || col_cols < 0 || detail::checked_mul(col_rows, col_cols) < 0)
    return Status::kInvalidArgument;
  return Status::kOk;
}

}  // namespace mrbm::kernels
