// The Adam optimizer step (PyTorch's torch.optim.Adam, amsgrad off, maximize off), applied in place
// to a list of parameter tensors.
//
// For step t (1-based) and each element, with the per-step constants computed on the host in
// float64 (adam_step_scalars, in PyTorch's order):
//   bias_correction1 = 1 - beta1^t,  bias_correction2 = 1 - beta2^t
//   step_size = lr / bias_correction1,  bc2_sqrt = sqrt(bias_correction2)
// the element update (adam_update, the one formula) is
//   g     = grad + weight_decay * param          (L2 as in PyTorch's Adam, not AdamW; skipped at 0)
//   m     = beta1 * m + (1 - beta1) * g
//   v     = beta2 * v + (1 - beta2) * g * g
//   denom = sqrt(v) / bc2_sqrt + eps             (eps added AFTER the square root, as PyTorch)
//   param = param - step_size * (m / denom)
// which equals the textbook param -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / bc1 and
// v_hat = v / bc2.
//
// Rounding: every operation is an explicitly rounded IEEE operation (fma, mul, add, div, sqrt:
// kernels/rounded.h), so no multiply-add is left for the compiler to contract and
// -use_fast_math cannot replace the division or square root: the CPU reference and the CUDA kernel
// produce bit-identical param, m and v. (One exception: -ftz=true, implied by -use_fast_math,
// flushes subnormal operands and results on the device; mrbm builds without it.) (PyTorch's own
// single-tensor, foreach and fused Adam differ from each other in the last bits of m and v; only
// the order of the bias corrections and eps affects results beyond rounding, and that order is
// PyTorch's.)
//
// Data layout: AdamTensorList points to `count` AdamTensor descriptors; each describes `size`
// contiguous float32 elements of param, m (first moment, PyTorch's exp_avg), v (second moment,
// exp_avg_sq) and grad. Tensors must not overlap. Zero-size tensors and an empty list are fine.
//
// CPU reference: adam_step_cpu (kernels/adam_cpu.cpp). CUDA: adam_step_cuda (kernels/adam_cuda.h)
// and the header-only launcher launch_adam_step (kernels/adam.cuh); same arguments plus the stream.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/rounded.h"
#include "kernels/status.h"

namespace mrbm::kernels {

// PyTorch's defaults. lr >= 0, 0 <= beta1 < 1, 0 <= beta2 < 1, eps >= 0, weight_decay >= 0, all
// finite (PyTorch's own checks, plus finiteness); validate_adam_hyper enforces them.
struct AdamHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// One parameter tensor: outputs (updated in place) first, then the input, then the size.
struct AdamTensor {
  float* param = nullptr;
  float* m = nullptr;  // first moment (exp_avg), starts at 0
  float* v = nullptr;  // second moment (exp_avg_sq), starts at 0
  const float* grad = nullptr;
  int64_t size = 0;
};

// The tensors of one optimizer step. The descriptor array lives in host memory; for adam_step_cuda
// the pointers inside the descriptors are device pointers.
struct AdamTensorList {
  const AdamTensor* tensors = nullptr;
  int64_t count = 0;
};

// The per-step constants of the update, derived on the host in float64 from AdamHyper and t and
// then rounded once to T (float for the kernels; double for the float64 reference trajectory).
template <typename T>
struct AdamStepScalarsT {
  T beta1;
  T one_minus_beta1;
  T beta2;
  T one_minus_beta2;
  T neg_step_size;  // -lr / (1 - beta1^t), PyTorch's `value=-step_size` of addcdiv_
  T bc2_sqrt;       // sqrt(1 - beta2^t)
  T eps;
  T weight_decay;
};
using AdamStepScalars = AdamStepScalarsT<float>;

inline Status validate_adam_hyper(const AdamHyper& h, int64_t step) {
  // Written as !(ok) so that NaN is rejected too.
  if (!(h.lr >= 0.0 && std::isfinite(h.lr))) return Status::kInvalidArgument;
  if (!(h.beta1 >= 0.0 && h.beta1 < 1.0)) return Status::kInvalidArgument;
  if (!(h.beta2 >= 0.0 && h.beta2 < 1.0)) return Status::kInvalidArgument;
  if (!(h.eps >= 0.0 && std::isfinite(h.eps))) return Status::kInvalidArgument;
  if (!(h.weight_decay >= 0.0 && std::isfinite(h.weight_decay))) return Status::kInvalidArgument;
  if (step < 1) return Status::kInvalidArgument;
  return Status::kOk;
}

inline Status validate_adam_list(const AdamTensorList& list) {
  if (list.count < 0) return Status::kInvalidArgument;
  if (list.count > 0 && !list.tensors) return Status::kInvalidArgument;
  for (int64_t i = 0; i < list.count; ++i) {
    const AdamTensor& t = list.tensors[i];
    if (t.size < 0) return Status::kInvalidArgument;
    if (t.size > 0 && (!t.param || !t.m || !t.v || !t.grad)) return Status::kInvalidArgument;
  }
  return Status::kOk;
}

// Checks shared by the CPU and CUDA entry points (inline: the header-only launcher needs them).
inline Status validate_adam_step(const AdamTensorList& list, const AdamHyper& h, int64_t step) {
  const Status hyper = validate_adam_hyper(h, step);
  return hyper != Status::kOk ? hyper : validate_adam_list(list);
}

// The constants of step `step` (>= 1, hyper-parameters valid). The bias corrections are computed
// in float64 per step, as PyTorch does in Python (1 - beta**t, lr / bc1, bc2 ** 0.5), and the
// results are rounded to T once, as PyTorch passes Python floats to its float32 kernels.
template <typename T>
inline AdamStepScalarsT<T> adam_step_scalars(const AdamHyper& h, int64_t step) {
  const double t = static_cast<double>(step);
  const double bias_correction1 = 1.0 - std::pow(h.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, t);
  AdamStepScalarsT<T> s;
  s.beta1 = static_cast<T>(h.beta1);
  s.one_minus_beta1 = static_cast<T>(1.0 - h.beta1);
  s.beta2 = static_cast<T>(h.beta2);
  s.one_minus_beta2 = static_cast<T>(1.0 - h.beta2);
  s.neg_step_size = static_cast<T>(-(h.lr / bias_correction1));
  s.bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  s.eps = static_cast<T>(h.eps);
  s.weight_decay = static_cast<T>(h.weight_decay);
  return s;
}

// The one formula of the Adam element update, in T = float (the kernels) or T = double (the tests'
// float64 trajectory). Operation order and roundings: see the file comment.
template <typename T>
MRBM_HD void adam_update(T& param, T& m, T& v, T grad, const AdamStepScalarsT<T>& s) {
  T g = grad;
  if (s.weight_decay != T(0)) g = rounded_fma(s.weight_decay, param, g);  // PyTorch skips it at 0
  m = rounded_fma(s.beta1, m, rounded_mul(s.one_minus_beta1, g));
  v = rounded_fma(s.beta2, v, rounded_mul(rounded_mul(s.one_minus_beta2, g), g));
  const T denom = rounded_add(rounded_div(rounded_sqrt(v), s.bc2_sqrt), s.eps);
  param = rounded_fma(s.neg_step_size, rounded_div(m, denom), param);
}

// The float32 update that adam_step_cpu and the CUDA kernel apply to every element.
MRBM_HD void adam_update_element(float& param, float& m, float& v, float grad,
                                 const AdamStepScalars& s) {
  adam_update<float>(param, m, v, grad, s);
}

// CPU reference and CPU backend: step `step` (1-based; the caller counts steps) over every tensor
// of the list, in place, one thread. Returns kInvalidArgument (and changes nothing) on invalid
// hyper-parameters, step < 1, a negative size or a missing pointer.
Status adam_step_cpu(const AdamTensorList& list, const AdamHyper& hyper, int64_t step);

}  // namespace mrbm::kernels
