// 2-D convolutions on Tensors: conv2d, its adjoint conv_transpose2d and the weight gradient, on the
// CPU (float32, float64) and on CUDA (float32; float64 on the im2col path), with selectable
// algorithms (docs/math.md section 4).
//
//   conv2d:             y[b,co,oh,ow]  = sum_{ci,i,j} w[co,ci,i,j] x[b,ci,oh*sh-ph+i, ow*sw-pw+j]
//   conv_transpose2d:   x_out = the adjoint of conv2d with the same w: <conv2d(x, w), y> =
//                       <x, conv_transpose2d(y, w)> (PyTorch's conv_transpose2d with an explicit
//                       output size: x_out's shape gives it, since out_h does not determine in_h
//                       when the stride is > 1)
//   conv2d_weight_grad: dw[co,ci,i,j]  = sum_{b,oh,ow} dy[b,co,oh,ow] x[b,ci,oh*sh-ph+i, ...]
//                       (= d<conv2d(x, w), dy>/dw)
// Each writes out = result + beta * out with beta 0 (out is not read: NaN in it is ignored) or 1
// (backward passes accumulate into gradients).
//
// Layout: NCHW activations x [B, Cin, H, W], y [B, Cout, Ho, Wo]; weights w [Cout, Cin, kh, kw]
// (the conv2d orientation, for both conv2d and conv_transpose2d); cross-correlation (no kernel
// flip), zero padding, no bias; Ho = (H + 2 pad_h - kh) / stride_h + 1 (kernels/conv_shape.h).
// All tensors contiguous, one dtype, one device; CUDA work runs on the context's stream.
//
// Algorithms (ConvAlgo):
//   kReference  the direct loops of kernels/conv_reference.h (CPU only): the oracle.
//   kIm2col     im2col + one GEMM per batch chunk (OpenBLAS on the CPU, cuBLAS on CUDA; needs no
//               cuDNN): the CPU default, and the CUDA path of builds without cuDNN (P40 check).
//   kCudnn      cuDNN forward / backward data / backward filter (CUDA builds with cuDNN, float32).
//   kAuto       the override (set_conv_algo_override, else the environment variable
//               MRBM_CONV_ALGO=auto|reference|im2col|cudnn) when it applies to the device, else
//               kCudnn on CUDA when available and float32, else kIm2col.
// The paired reference of every path is kReference (test/test_core_conv.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "core/cuda_context.h"
#include "core/tensor.h"
#include "kernels/conv_shape.h"

namespace mrbm {

// Stride and zero padding of a convolution; the defaults are the paper's conv RBM layer (k 4,
// stride 2, pad 1 halves the image exactly; docs/math.md section 4). The kernel size comes from w.
struct ConvParams {
  int64_t stride_h = 2;
  int64_t stride_w = 2;
  int64_t pad_h = 1;
  int64_t pad_w = 1;
};

enum class ConvAlgo { kAuto, kReference, kIm2col, kCudnn };

// "auto", "reference", "im2col", "cudnn".
const char* conv_algo_name(ConvAlgo algo);
// The inverse of conv_algo_name; InvalidArgument naming the text otherwise.
ConvAlgo parse_conv_algo(const std::string& text);

// What kAuto means from now on in this process (kAuto: back to the environment / device default).
// Used by `mrbm bench` and to force the non-cuDNN path; thread-safe.
void set_conv_algo_override(ConvAlgo algo);
// The override in effect: the setter's value, else MRBM_CONV_ALGO (read once), else kAuto.
ConvAlgo conv_algo_override();
// The algorithm a call with `algo` runs for tensors of `dtype` on `device` (never kAuto). An
// explicit algo is returned unchanged (the call then checks that it can run); kAuto resolves as
// described above (an override that cannot serve the device, e.g. cudnn on the CPU, is skipped).
ConvAlgo resolve_conv_algo(ConvAlgo algo, Device device, DType dtype, const CudaContext* cuda);

// Upper bound of the im2col column buffer in bytes: the batch is processed in chunks of
// max(1, limit / (Cin kh kw Ho Wo sizeof(T))) samples. 0 restores the defaults (64 MiB on the
// CPU, 256 MiB on CUDA). Returns the previous setting (0 = defaults). For tests and memory-tight
// runs; thread-safe.
int64_t set_im2col_buffer_limit(int64_t bytes);

// The ConvShape of conv2d(x [B, Cin, H, W], w [Cout, Cin, kh, kw], params); ShapeError (naming both
// shapes) when they do not fit, InvalidArgument for a bad stride or padding.
kernels::ConvShape make_conv2d_shape(const Shape& x, const Shape& w, const ConvParams& params);
// [B, Cout, Ho, Wo].
Shape conv2d_output_shape(const Shape& x, const Shape& w, const ConvParams& params);

// The im2col columns [Cin kh kw, B Ho Wo] of one conv2d input x, which conv2d can keep for the
// weight gradient of the same x (autodiff's conv2d does: the backward then skips an im2col, 5-10%
// of a CPU training step). Kept on the CPU im2col path only, and only when the whole batch is one
// chunk (set_im2col_buffer_limit); `col` stays undefined otherwise. It holds x's values at the
// time of the conv2d call: pass it only with that same, unchanged x.
struct ConvColumns {
  Tensor col;
};

// y [B, Cout, Ho, Wo] = conv2d(x, w) + beta * y; keeps x's columns in *keep when given and
// possible (ConvColumns).
// `cuda` is required for CUDA tensors and ignored for CPU ones.
void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const ConvParams& params, double beta,
            CudaContext* cuda, ConvAlgo algo = ConvAlgo::kAuto, ConvColumns* keep = nullptr);

// x_out [B, Cin, H, W] = conv_transpose2d(y [B, Cout, Ho, Wo], w) + beta * x_out; Ho must be the
// conv2d output extent of H (likewise Wo of W).
void conv_transpose2d(Tensor& x_out, const Tensor& y, const Tensor& w, const ConvParams& params,
                      double beta, CudaContext* cuda, ConvAlgo algo = ConvAlgo::kAuto);

// dw [Cout, Cin, kh, kw] = weight_grad(x [B, Cin, H, W], dy [B, Cout, Ho, Wo]) + beta * dw.
// `columns`: what conv2d kept for this x; used when defined and of the right shape on the CPU
// im2col path (else x is im2col'ed again).
void conv2d_weight_grad(Tensor& dw, const Tensor& x, const Tensor& dy, const ConvParams& params,
                        double beta, CudaContext* cuda, ConvAlgo algo = ConvAlgo::kAuto,
                        const ConvColumns* columns = nullptr);

}  // namespace mrbm
