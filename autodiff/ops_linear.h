// Differentiable matrix product (convolutions: autodiff/ops_conv.h).
//
//   matmul:  C = op(A) op(B)     d op(A) += G op(B)^T,  d op(B) += op(A)^T G
//            (the transposes are folded into the GEMM flags, nothing is materialized)
#pragma once

#include "autodiff/tape.h"
#include "autodiff/variable.h"

namespace mrbm::autodiff {

Variable matmul(Tape& tape, const Variable& a, const Variable& b, bool trans_a = false,
                bool trans_b = false);

}  // namespace mrbm::autodiff
