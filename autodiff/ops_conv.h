// Differentiable 2-D convolutions on the tape (docs/math.md sections 4 and 8), on top of the
// Tensor-level ops of core/conv.h:
//
//   y = conv2d(x, W):            dx += conv_transpose2d(dy, W),   dW += weight_grad(x, dy)
//   x = conv_transpose2d(y, W):  dy += conv2d(dx, W),             dW += weight_grad(dx, y)
//
// The second rule follows from conv_transpose2d being the adjoint of conv2d: for the output
// gradient g, <conv_transpose2d(y, W), g> = <y, conv2d(g, W)>, which is linear in y with gradient
// conv2d(g, W), and is the conv2d-weight-gradient pairing with g in the role of the conv input and
// y in the role of the output gradient: dW += conv2d_weight_grad(x = g, dy = y).
//
// Layout: NCHW activations, weights [C_out, C_in, k_h, k_w] in the conv2d orientation for both ops
// (conv_transpose2d maps C_out channels back to C_in, as in the conv RBM's reconstruction
// v' = convT(h, W)). conv_transpose2d needs the output size (out_h, out_w) because with stride > 1
// several input sizes give the same conv2d output size.
// The tape's device picks CPU or CUDA; `algo` defaults to kAuto (cuDNN on CUDA when available,
// im2col otherwise; set_conv_algo_override / MRBM_CONV_ALGO force another), and the backward pass
// uses the same algo as the forward. float32 for training, float64 on the CPU for gradient checks
// (autodiff/gradcheck.h; test/test_autodiff_conv.cpp).
#pragma once

#include <cstdint>

#include "autodiff/tape.h"
#include "autodiff/variable.h"
#include "core/conv.h"

namespace mrbm::autodiff {

// y [B, Cout, Ho, Wo] = conv2d(x [B, Cin, H, W], w [Cout, Cin, kh, kw]).
Variable conv2d(Tape& tape, const Variable& x, const Variable& w, const ConvParams& params = {},
                ConvAlgo algo = ConvAlgo::kAuto);

// x [B, Cin, out_h, out_w] = conv_transpose2d(y [B, Cout, Ho, Wo], w [Cout, Cin, kh, kw]); Ho must
// be the conv2d output extent of out_h (likewise Wo of out_w), else ShapeError.
Variable conv_transpose2d(Tape& tape, const Variable& y, const Variable& w,
                          const ConvParams& params, int64_t out_h, int64_t out_w,
                          ConvAlgo algo = ConvAlgo::kAuto);

}  // namespace mrbm::autodiff
