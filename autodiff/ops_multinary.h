// Differentiable multinary unit ops (docs/math.md sections 2, 3 and 8), one fused pass each way.
//
//   multinary(tape, x, unit) -> { mean = f(x)             (x's shape and dtype),
//                                 row_phi[r] = sum_c Phi(x[r, c])   ([rows], float64),
//                                 sample ~ the unit at x             (optional, no gradient) }
//   backward: grad_x += grad_mean * f'(x) + grad_row_phi[r] * f(x)
//
// rows = x.size(0), the rest of x's dimensions are the columns (a row is a sample). Only the
// outputs asked for are computed and only what their backward needs is saved. float32 runs the
// fused kernel (CPU or CUDA, kernels/multinary.h); float64 (CPU) evaluates the brute-force float64
// reference (kernels/multinary_reference.h) element by element: the twin for gradient checks.
// A kLogitCopies unit's table must live on x's device.
#pragma once

#include "autodiff/tape.h"
#include "autodiff/variable.h"
#include "kernels/unit_spec.h"

namespace mrbm::autodiff {

struct MultinaryOutputs {
  Variable mean;     // undefined unless asked for
  Variable row_phi;  // undefined unless asked for
  Tensor sample;     // undefined unless a sampler was given; never carries a gradient
};

// A sample drawn in the same pass (the hidden sample of a Gibbs step shares the pass that computes
// the positive phase's mean and free energy). Counter-based: (seed, offset, element index).
struct SampleRequest {
  kernels::Sampler sampler = kernels::Sampler::kNone;
  uint64_t seed = 0;
  uint32_t offset = 0;
};

MultinaryOutputs multinary(Tape& tape, const Variable& x, const kernels::UnitSpec& unit,
                           bool want_mean, bool want_row_phi, const SampleRequest& sample = {});

// Shorthands.
inline Variable multinary_mean(Tape& tape, const Variable& x, const kernels::UnitSpec& unit) {
  return multinary(tape, x, unit, true, false).mean;
}
inline Variable multinary_row_phi(Tape& tape, const Variable& x, const kernels::UnitSpec& unit) {
  return multinary(tape, x, unit, false, true).row_phi;
}

}  // namespace mrbm::autodiff
