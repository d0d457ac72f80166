// Direct-loop references of conv2d, its adjoint conv_transpose2d and its weight gradient (NCHW,
// no bias, cross-correlation as in PyTorch; docs/math.md sections 4 and 8). They are the oracles of
// every faster conv path (im2col + GEMM on the CPU, cuBLAS/cuDNN/custom kernels on the GPU) and
// run in double for the autodiff gradient checks. ConvShape (kernels/conv_shape.h) gives the sizes:
//
//   conv2d:            y[b,co,oh,ow]  = sum_{ci,i,j} w[co,ci,i,j] x[b,ci,oh*sh-ph+i, ow*sw-pw+j]
//   conv_transpose2d:  x_out[b,ci,h,v] = sum_{co,i,j,oh,ow : oh*sh-ph+i = h, ow*sw-pw+j = v}
//                                             w[co,ci,i,j] y_in[b,co,oh,ow]
//                      (the adjoint: <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>)
//   weight gradient:   dw[co,ci,i,j]  = sum_{b,oh,ow} dy[b,co,oh,ow] x[b,ci,oh*sh-ph+i, ow*sw-pw+j]
//                      (= d<conv2d(x, w), dy>/dw)
// x outside the image reads as zero (padding). Outputs are overwritten, never accumulated into.
// Every sum is accumulated in double and rounded to T once, so the float versions are oracles too
// (float products are exact in double).
//
// Each output element is computed by a gather (no scatter, no temporary buffer), written as plainly
// as possible: these loops are meant to be read and trusted, not to be fast. One concession:
// conv_transpose2d lists the taps that cover each input row and column once, instead of testing
// every tap of every output channel (its modulo tests made it the slowest oracle of the tests);
// it still adds the same products in the same order.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/conv_shape.h"
#include "kernels/status.h"

namespace mrbm::kernels {
namespace detail {

// Shape valid, and every pointer of a non-empty tensor set.
inline Status check_conv_args(const ConvShape& s, const void* x, const void* w, const void* y) {
  const Status status = validate_conv_shape(s);
  if (status != Status::kOk) return status;
  if ((conv_input_count(s) > 0 && x == nullptr) || (conv_weight_count(s) > 0 && w == nullptr) ||
      (conv_output_count(s) > 0 && y == nullptr))
    return Status::kInvalidArgument;
  return Status::kOk;
}

}  // namespace detail

template <class T>
Status conv2d_reference(T* y, const T* x, const T* w, const ConvShape& s) {
  const Status status = detail::check_conv_args(s, x, w, y);
  if (status != Status::kOk) return status;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t co = 0; co < s.out_channels; ++co)
      for (int64_t oh = 0; oh < s.out_h; ++oh)
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          double acc = 0.0;
          for (int64_t ci = 0; ci < s.in_channels; ++ci)
            for (int64_t i = 0; i < s.kernel_h; ++i) {
              const int64_t h = oh * s.stride_h - s.pad_h + i;
              if (h < 0 || h >= s.in_h) continue;
              for (int64_t j = 0; j < s.kernel_w; ++j) {
                const int64_t v = ow * s.stride_w - s.pad_w + j;
                if (v < 0 || v >= s.in_w) continue;
                acc += static_cast<double>(
                           w[((co * s.in_channels + ci) * s.kernel_h + i) * s.kernel_w + j]) *
                       static_cast<double>(x[((b * s.in_channels + ci) * s.in_h + h) * s.in_w + v]);
              }
            }
          y[((b * s.out_channels + co) * s.out_h + oh) * s.out_w + ow] = static_cast<T>(acc);
        }
  return Status::kOk;
}

// The adjoint of conv2d with the same shape: input y_in [batch, out_channels, out_h, out_w],
// output x_out [batch, in_channels, in_h, in_w]. For each output pixel (h, v) and tap (i, j) the
// contributing output position is oh = (h + ph - i) / sh when that division is exact and in range.
template <class T>
Status conv_transpose2d_reference(T* x_out, const T* y_in, const T* w, const ConvShape& s) {
  const Status status = detail::check_conv_args(s, x_out, w, y_in);
  if (status != Status::kOk) return status;
  // The taps that cover each input row h (kernel row i, output row oh) and column v (j, ow),
  // listed once: they do not depend on the batch or the channels. The sum below visits them in
  // the order of the plain loops (co, then i, then j ascending), so the result is the same.
  struct Tap {
    int64_t k, o;
  };
  auto taps = [](int64_t extent, int64_t pad, int64_t kernel, int64_t stride, int64_t out) {
    std::vector<std::vector<Tap>> list(static_cast<size_t>(extent));
    for (int64_t p = 0; p < extent; ++p)
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t t = p + pad - k;  // = o * stride when tap k of output o covers p
        if (t >= 0 && t % stride == 0 && t / stride < out) list[p].push_back({k, t / stride});
      }
    return list;
  };
  const auto rows = taps(s.in_h, s.pad_h, s.kernel_h, s.stride_h, s.out_h);
  const auto cols = taps(s.in_w, s.pad_w, s.kernel_w, s.stride_w, s.out_w);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t ci = 0; ci < s.in_channels; ++ci)
      for (int64_t h = 0; h < s.in_h; ++h)
        for (int64_t v = 0; v < s.in_w; ++v) {
          double acc = 0.0;
          for (int64_t co = 0; co < s.out_channels; ++co) {
            const T* wc = w + (co * s.in_channels + ci) * s.kernel_h * s.kernel_w;
            const T* yc = y_in + (b * s.out_channels + co) * s.out_h * s.out_w;
            for (const Tap& r : rows[h])
              for (const Tap& c : cols[v])
                acc += static_cast<double>(wc[r.k * s.kernel_w + c.k]) *
                       static_cast<double>(yc[r.o * s.out_w + c.o]);
          }
          x_out[((b * s.in_channels + ci) * s.in_h + h) * s.in_w + v] = static_cast<T>(acc);
        }
  return Status::kOk;
}

// dw [out_channels, in_channels, kh, kw] from the conv2d input x and the output gradient dy.
template <class T>
Status conv2d_weight_grad_reference(T* dw, const T* x, const T* dy, const ConvShape& s) {
  const Status status = detail::check_conv_args(s, x, dw, dy);
  if (status != Status::kOk) return status;
  for (int64_t co = 0; co < s.out_channels; ++co)
    for (int64_t ci = 0; ci < s.in_channels; ++ci)
      for (int64_t i = 0; i < s.kernel_h; ++i)
        for (int64_t j = 0; j < s.kernel_w; ++j) {
          double acc = 0.0;
          for (int64_t b = 0; b < s.batch; ++b)
            for (int64_t oh = 0; oh < s.out_h; ++oh) {
              const int64_t h = oh * s.stride_h - s.pad_h + i;
              if (h < 0 || h >= s.in_h) continue;
              for (int64_t ow = 0; ow < s.out_w; ++ow) {
                const int64_t v = ow * s.stride_w - s.pad_w + j;
                if (v < 0 || v >= s.in_w) continue;
                acc += static_cast<double>(
                           dy[((b * s.out_channels + co) * s.out_h + oh) * s.out_w + ow]) *
                       static_cast<double>(x[((b * s.in_channels + ci) * s.in_h + h) * s.in_w + v]);
              }
            }
          dw[((co * s.in_channels + ci) * s.kernel_h + i) * s.kernel_w + j] = static_cast<T>(acc);
        }
  return Status::kOk;
}

}  // namespace mrbm::kernels
