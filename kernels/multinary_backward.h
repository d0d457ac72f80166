// Backward of the fused multinary pass (kernels/multinary.h) for reverse-mode autodiff:
//
//   grad_x[r, c] += grad_mean[r, c] * var[r, c]  +  grad_row_phi[r] * mean[r, c]
//
// because d mean / dx = f'(x) = var and d Phi / dx = f(x) = mean (docs/math.md section 8). Either
// term may be absent (null pointers). Accumulates (+=) into grad_x: gradients of a variable used
// twice add up. The products are formed in double (grad_row_phi is float64: the free energy is
// accumulated in float64), the sum rounded once to T.
// CPU reference: multinary_backward_cpu (T = float or double); CUDA: multinary_backward_cuda
// (kernels/multinary_backward_cuda.h), launcher launch_multinary_backward (multinary_backward.cuh).
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/status.h"

namespace mrbm::kernels {

template <class T>
struct MultinaryBackwardArgs {
  T* grad_x = nullptr;                   // rows x cols, accumulated into
  const T* grad_mean = nullptr;          // rows x cols, or null
  const T* var = nullptr;                // rows x cols, needed with grad_mean
  const double* grad_row_phi = nullptr;  // rows, or null
  const T* mean = nullptr;               // rows x cols, needed with grad_row_phi
  int64_t rows = 0;
  int64_t cols = 0;
};

template <class T>
inline Status validate_multinary_backward_args(const MultinaryBackwardArgs<T>& a) {
  if (a.rows < 0 || a.cols < 0) return Status::kInvalidArgument;
  if (a.rows * a.cols == 0) return Status::kOk;
  if (!a.grad_x) return Status::kInvalidArgument;
  if (a.grad_mean && !a.var) return Status::kInvalidArgument;
  if (a.grad_row_phi && !a.mean) return Status::kInvalidArgument;
  return Status::kOk;
}

template <class T>
MRBM_HD void multinary_backward_element(const MultinaryBackwardArgs<T>& a, int64_t i, int64_t r) {
  double g = 0.0;
  if (a.grad_mean) g += static_cast<double>(a.grad_mean[i]) * static_cast<double>(a.var[i]);
  if (a.grad_row_phi) g += a.grad_row_phi[r] * static_cast<double>(a.mean[i]);
  a.grad_x[i] = static_cast<T>(static_cast<double>(a.grad_x[i]) + g);
}

template <class T>
inline Status multinary_backward_cpu(const MultinaryBackwardArgs<T>& a) {
  const Status status = validate_multinary_backward_args(a);
  if (status != Status::kOk) return status;
  for (int64_t r = 0; r < a.rows; ++r) {
    for (int64_t c = 0; c < a.cols; ++c) multinary_backward_element(a, r * a.cols + c, r);
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
