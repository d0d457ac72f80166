// Differentiable reductions, accumulated in float64 (free energies reach 1e5-1e6 per sample at
// N = 255, docs/math.md section 3). Outputs are float64 whatever the input dtype; gradients flow
// back into the input's dtype.
//
//   sum(x)          -> []      = sum of all elements         dx += g
//   mean(x)         -> []      = sum / numel                 dx += g / numel
//   row_sum(x)      -> [rows]  = sum_c x[r, c]               dx[r, c] += g[r]
//   row_dot(x, a, inner) -> [rows] = sum_c x[r, c] a[c / inner]
//                                      dx[r, c] += g[r] a[c / inner],
//                                      da[ch] += sum_{r, p} g[r] x[r, ch*inner + p]
// rows = x.size(0); the other dimensions are the columns. row_dot with inner = 1 is the a.v of a
// dense visible bias, with inner = H*W the per-channel sum_c a_c sum_p v_cp of a conv layer.
#pragma once

#include "autodiff/tape.h"
#include "autodiff/variable.h"

namespace mrbm::autodiff {

Variable sum(Tape& tape, const Variable& x);
Variable mean(Tape& tape, const Variable& x);
Variable row_sum(Tape& tape, const Variable& x);
Variable row_dot(Tape& tape, const Variable& x, const Variable& a, int64_t inner);

}  // namespace mrbm::autodiff
