// Differentiable elementwise ops and views. Inputs of a binary op have the same number of
// elements, dtype and device (the output takes the first input's shape).
//
//   add(a, b) = a + b            da += g,        db += g
//   sub(a, b) = a - b            da += g,        db -= g
//   scale(a, s) = s a            da += s g
//   mul(a, b) = a * b            da += g * b,    db += g * a
//   add_bias(x, bias, inner)     x: [rows, ...] with cols = channels * inner, bias: [channels];
//        y[r, c] = x[r, c] + bias[c / inner]     dx += g,  dbias[ch] += sum_{r, p} g[r, ch*inner + p]
//   reshape(x, shape)            a view; dx += g (reshaped back)
//   stop_gradient(x)             the same value, no gradient flows through (sg in docs/math.md)
#pragma once

#include "autodiff/tape.h"
#include "autodiff/variable.h"

namespace mrbm::autodiff {

Variable add(Tape& tape, const Variable& a, const Variable& b);
Variable sub(Tape& tape, const Variable& a, const Variable& b);
Variable scale(Tape& tape, const Variable& a, double s);
Variable mul(Tape& tape, const Variable& a, const Variable& b);
Variable add_bias(Tape& tape, const Variable& x, const Variable& bias, int64_t inner);
Variable reshape(Tape& tape, const Variable& x, const Shape& shape);
Variable stop_gradient(const Variable& x);

}  // namespace mrbm::autodiff
