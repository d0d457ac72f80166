// Differentiable linear ops: matrix products and (strided, padded) 2-D convolutions.
//
//   matmul:            C = op(A) op(B)                 dA += dC op(B)^T (transposed back as
//                                                      needed), dB += op(A)^T dC
//   conv2d:            y = conv2d(x, W; stride, pad)   dx += conv_transpose2d(dy, W),
//                                                      dW += weight_grad(x, dy)
//   conv_transpose2d:  x = conv_transpose2d(y, W)      (the adjoint of conv2d with the same W)
//                                                      dy += conv2d(dx, W), dW += weight_grad(dx, y)
// NCHW activations, weights [C_out, C_in, k_h, k_w] (the conv2d orientation for both ops).
#pragma once

#include "autodiff/tape.h"
#include "autodiff/variable.h"

namespace mrbm::autodiff {

Variable matmul(Tape& tape, const Variable& a, const Variable& b, bool trans_a = false,
                bool trans_b = false);

}  // namespace mrbm::autodiff
