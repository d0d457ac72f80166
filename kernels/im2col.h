// im2col and col2im: lower a convolution to GEMMs (docs/math.md section 4; kernels/conv_shape.h
// defines the sizes and conv2d). This header holds the index math (MRBM_HD, shared with the CUDA
// kernels of kernels/im2col.cuh) and the CPU versions im2col_cpu / col2im_cpu, which are the
// paired references of im2col_cuda / col2im_cuda (kernels/im2col_cuda.h).
//
// The col matrix, row-major [K, N] with
//   K = in_channels * kernel_h * kernel_w,  row    r = (ci * kernel_h + i) * kernel_w + j
//   N = batch * out_h * out_w,              column n = (b * out_h + oh) * out_w + ow
//   col[r, n] = x[b, ci, oh*stride_h - pad_h + i, ow*stride_w - pad_w + j]   (0 in the padding).
// Row r matches the flattening of weight [Cout, Cin, kh, kw] to W [Cout, K]. With P = out_h * out_w
// and gemm_reference's row-major arguments (trans_a, trans_b, m, n, k; lda, ldb, ldc):
//   forward, one GEMM: Y_cnhw [Cout, N] = W col:      gemm(F, F, Cout, N, K; K, N, N)
//       (Y in [Cout, batch, out_h, out_w] order: a permute gives NCHW), or per sample straight
//       into NCHW: y_b [Cout, P] = W col[:, b P : b P + P] with ldb = N (a strided batched GEMM,
//       stride P on col, Cout P on y);
//   weight gradient, one GEMM: dW [Cout, K] = dY_cnhw col^T:
//                                                     gemm(F, T, Cout, K, N; N, N, K)
//       (or per sample from an NCHW dy, accumulating with beta = 1);
//   data gradient / conv_transpose2d: col = W^T dY_cnhw:
//                                                     gemm(T, F, K, N, Cout; K, N, N)
//       (or per sample from an NCHW dy with ldc = N), then x = col2im(col).
// Why [K, batch * P] and not one [K, P] block per sample: the weight gradient sums over the batch
// AND the positions; with both in the single column index n it is one GEMM with inner size N
// (large, efficient), while per-sample blocks need batch GEMMs summed. The forward and data
// gradient lose nothing: a per-sample block is a column slice (leading dimension N), so NCHW
// tensors are served by strided batched GEMMs without copies. The price is memory: col holds
// about kh kw / (sh sw) times the input (4x for k 4, s 2); a caller short of memory processes the
// batch in chunks (a chunk of an NCHW batch is contiguous: shape.batch = chunk, x + b0 * Cin H W).
//
// col2im is the adjoint of im2col: x[b, ci, h, v] = sum of every col entry that im2col read from
// that pixel (equivalently: zero x, then add each column's patch back; overlapping patches add).
// It gathers: each pixel sums its contributions in a fixed order (taps i ascending, then j
// ascending), in T. The CUDA kernel runs the same function, so it is deterministic (no atomics)
// and sums in the same order as the CPU. At most ceil(kh / sh) * ceil(kw / sw) terms per pixel.
//
// x and col must not overlap. Invalid arguments return Status::kInvalidArgument without writing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/conv_shape.h"
#include "kernels/hd.h"
#include "kernels/status.h"

namespace mrbm::kernels {

// col[index] for index = r * N + n (the layout above).
template <class T>
MRBM_HD T im2col_element(const T* x, const ConvShape& s, int64_t index) {
  const int64_t cols = conv_col_cols(s);
  const int64_t r = index / cols;
  const int64_t n = index - r * cols;
  const int64_t ow = n % s.out_w;
  const int64_t oh = (n / s.out_w) % s.out_h;
  const int64_t b = n / (s.out_w * s.out_h);
  const int64_t j = r % s.kernel_w;
  const int64_t i = (r / s.kernel_w) % s.kernel_h;
  const int64_t ci = r / (s.kernel_w * s.kernel_h);
  const int64_t h = oh * s.stride_h - s.pad_h + i;
  const int64_t v = ow * s.stride_w - s.pad_w + j;
  if (h < 0 || h >= s.in_h || v < 0 || v >= s.in_w) return T(0);
  return x[((b * s.in_channels + ci) * s.in_h + h) * s.in_w + v];
}

// x[index] for index = ((b * in_channels + ci) * in_h + h) * in_w + v: the sum over the taps
// (i, j) whose window covers (h, v). Tap i covers row h from output row oh = (h + pad_h - i) /
// stride_h when the division is exact and 0 <= oh < out_h: so i runs over (h + pad_h) % stride_h,
// + stride_h, ... and stops once h + pad_h - i < 0.
template <class T>
MRBM_HD T col2im_element(const T* col, const ConvShape& s, int64_t index) {
  const int64_t cols = conv_col_cols(s);
  const int64_t v = index % s.in_w;
  const int64_t h = (index / s.in_w) % s.in_h;
  const int64_t ci = (index / (s.in_w * s.in_h)) % s.in_channels;
  const int64_t b = index / (s.in_w * s.in_h * s.in_channels);
  const int64_t th = h + s.pad_h;  // >= 0
  const int64_t tw = v + s.pad_w;
  T sum = T(0);
  for (int64_t i = th % s.stride_h; i < s.kernel_h && i <= th; i += s.stride_h) {
    const int64_t oh = (th - i) / s.stride_h;
    if (oh >= s.out_h) continue;
    for (int64_t j = tw % s.stride_w; j < s.kernel_w && j <= tw; j += s.stride_w) {
      const int64_t ow = (tw - j) / s.stride_w;
      if (ow >= s.out_w) continue;
      const int64_t r = (ci * s.kernel_h + i) * s.kernel_w + j;
      const int64_t n = (b * s.out_h + oh) * s.out_w + ow;
      sum += col[r * cols + n];
    }
  }
  return sum;
}

// Shape valid and the pointers of non-empty tensors set; shared by the CPU and CUDA entry points.
inline Status validate_im2col_args(const void* col, const void* x, const ConvShape& s) {
  const Status status = validate_conv_shape(s);
  if (status != Status::kOk) return status;
  if ((conv_col_count(s) > 0 && col == nullptr) || (conv_input_count(s) > 0 && x == nullptr))
    return Status::kInvalidArgument;
  return Status::kOk;
}

// col [K, N] from x [batch, in_channels, in_h, in_w]; overwrites all of col.
template <class T>
Status im2col_cpu(T* col, const T* x, const ConvShape& shape) {
  const Status status = validate_im2col_args(col, x, shape);
  if (status != Status::kOk) return status;
  const int64_t count = conv_col_count(shape);
  for (int64_t index = 0; index < count; ++index) col[index] = im2col_element(x, shape, index);
  return Status::kOk;
}

// x [batch, in_channels, in_h, in_w] from col [K, N]; overwrites all of x (pixels that no window
// reaches get 0).
template <class T>
Status col2im_cpu(T* x, const T* col, const ConvShape& shape) {
  const Status status = validate_im2col_args(col, x, shape);
  if (status != Status::kOk) return status;
  const int64_t count = conv_input_count(shape);
  for (int64_t index = 0; index < count; ++index) x[index] = col2im_element(col, shape, index);
  return Status::kOk;
}

// The same results as im2col_cpu / col2im_cpu (bit for bit: col2im adds each pixel's taps in the
// same order), computed row by row of col without per-element index divisions: for each kernel
// tap (ci, i, j) the rows (b, oh) are contiguous runs of out_w values. This is the CPU path of
// core/conv.cpp; the element-wise functions above stay the reference and the CUDA formula.
// The *_batches versions do images [b_begin, b_end) only: each image owns its own columns of col
// and its own part of x, so callers may run disjoint ranges on different threads.
namespace detail {

// The outputs ow of a row whose input column v = ow stride - pad + j lies in [0, in_w): [lo, hi).
struct ValidColumns {
  int64_t lo, hi;
};
inline ValidColumns valid_columns(const ConvShape& s, int64_t j) {
  const int64_t first = s.pad_w - j;  // lo = ceil(first / stride) for first > 0
  const int64_t lo = first <= 0 ? 0 : (first + s.stride_w - 1) / s.stride_w;
  const int64_t last = s.in_w - 1 + s.pad_w - j;  // hi = floor(last / stride) + 1 for last >= 0
  const int64_t hi = last < 0 ? 0 : last / s.stride_w + 1;
  return {std::min(lo, s.out_w), std::max(std::min(hi, s.out_w), std::min(lo, s.out_w))};
}

// dst[0, n) = src[0, stride, 2 stride, ...]: a compile-time stride lets the compiler vectorize
// the strided loads of the common strides 1 and 2.
template <int64_t kStride, class T>
inline void gather_row(T* dst, const T* src, int64_t n, int64_t stride) {
  if (kStride > 0) stride = kStride;
  for (int64_t t = 0; t < n; ++t) dst[t] = src[t * stride];
}
template <int64_t kStride, class T>
inline void scatter_add_row(T* dst, const T* src, int64_t n, int64_t stride) {
  if (kStride > 0) stride = kStride;
  for (int64_t t = 0; t < n; ++t) dst[t * stride] += src[t];
}

// f(std::integral_constant<int64_t, k>) with k = the stride when it is 1 or 2 (compile-time, for the
// vectorized row loops), else k = 0 (the stride read at run time).
template <class F>
void with_stride(int64_t stride, const F& f) {
  if (stride == 1) {
    f(std::integral_constant<int64_t, 1>{});
  } else if (stride == 2) {
    f(std::integral_constant<int64_t, 2>{});
  } else {
    f(std::integral_constant<int64_t, 0>{});
  }
}

template <int64_t kStride, class T>
void im2col_rows(T* col, const T* x, const ConvShape& s, int64_t b_begin, int64_t b_end) {
  const int64_t cols = conv_col_cols(s);
  const int64_t image_cols = s.out_h * s.out_w;
  for (int64_t ci = 0; ci < s.in_channels; ++ci) {
    for (int64_t i = 0; i < s.kernel_h; ++i) {
      for (int64_t j = 0; j < s.kernel_w; ++j) {
        const ValidColumns v = valid_columns(s, j);
        const int64_t v_lo = v.lo * s.stride_w - s.pad_w + j;  // input column of output v.lo
        T* dst = col + ((ci * s.kernel_h + i) * s.kernel_w + j) * cols + b_begin * image_cols;
        for (int64_t b = b_begin; b < b_end; ++b) {
          for (int64_t oh = 0; oh < s.out_h; ++oh, dst += s.out_w) {
            const int64_t h = oh * s.stride_h - s.pad_h + i;
            if (h < 0 || h >= s.in_h) {
              for (int64_t ow = 0; ow < s.out_w; ++ow) dst[ow] = T(0);
              continue;
            }
            const T* src = x + ((b * s.in_channels + ci) * s.in_h + h) * s.in_w;
            for (int64_t ow = 0; ow < v.lo; ++ow) dst[ow] = T(0);
            if (v.hi > v.lo) gather_row<kStride>(dst + v.lo, src + v_lo, v.hi - v.lo, s.stride_w);
            for (int64_t ow = v.hi; ow < s.out_w; ++ow) dst[ow] = T(0);
          }
        }
      }
    }
  }
}

template <int64_t kStride, class T>
void col2im_rows(T* x, const T* col, const ConvShape& s, int64_t b_begin, int64_t b_end) {
  const int64_t cols = conv_col_cols(s);
  const int64_t image_cols = s.out_h * s.out_w;
  const int64_t image_size = s.in_channels * s.in_h * s.in_w;
  for (int64_t k = b_begin * image_size; k < b_end * image_size; ++k) x[k] = T(0);
  // Taps in increasing (i, j) order within each channel: each pixel receives its terms in the
  // same order as col2im_element sums them, so the results are identical.
  for (int64_t ci = 0; ci < s.in_channels; ++ci) {
    for (int64_t i = 0; i < s.kernel_h; ++i) {
      for (int64_t j = 0; j < s.kernel_w; ++j) {
        const ValidColumns v = valid_columns(s, j);
        const int64_t v_lo = v.lo * s.stride_w - s.pad_w + j;
        const T* src = col + ((ci * s.kernel_h + i) * s.kernel_w + j) * cols + b_begin * image_cols;
        for (int64_t b = b_begin; b < b_end; ++b) {
          for (int64_t oh = 0; oh < s.out_h; ++oh, src += s.out_w) {
            const int64_t h = oh * s.stride_h - s.pad_h + i;
            if (h < 0 || h >= s.in_h || v.hi <= v.lo) continue;
            T* dst = x + ((b * s.in_channels + ci) * s.in_h + h) * s.in_w;
            scatter_add_row<kStride>(dst + v_lo, src + v.lo, v.hi - v.lo, s.stride_w);
          }
        }
      }
    }
  }
}

}  // namespace detail

template <class T>
Status im2col_cpu_by_rows_batches(T* col, const T* x, const ConvShape& s, int64_t b_begin,
                                  int64_t b_end) {
  const Status status = validate_im2col_args(col, x, s);
  if (status != Status::kOk) return status;
  if (b_begin < 0 || b_end > s.batch || b_begin > b_end) return Status::kInvalidArgument;
  detail::with_stride(s.stride_w, [&](auto stride) {
    detail::im2col_rows<decltype(stride)::value>(col, x, s, b_begin, b_end);
  });
  return Status::kOk;
}

template <class T>
Status col2im_cpu_by_rows_batches(T* x, const T* col, const ConvShape& s, int64_t b_begin,
                                  int64_t b_end) {
  const Status status = validate_im2col_args(col, x, s);
  if (status != Status::kOk) return status;
  if (b_begin < 0 || b_end > s.batch || b_begin > b_end) return Status::kInvalidArgument;
  detail::with_stride(s.stride_w, [&](auto stride) {
    detail::col2im_rows<decltype(stride)::value>(x, col, s, b_begin, b_end);
  });
  return Status::kOk;
}

template <class T>
Status im2col_cpu_by_rows(T* col, const T* x, const ConvShape& s) {
  return im2col_cpu_by_rows_batches(col, x, s, 0, s.batch);
}

template <class T>
Status col2im_cpu_by_rows(T* x, const T* col, const ConvShape& s) {
  return col2im_cpu_by_rows_batches(x, col, s, 0, s.batch);
}

}  // namespace mrbm::kernels
