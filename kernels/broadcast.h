// The broadcast product that the backward of every reduction needs:
//
//   out[r, c] = gamma * out[r, c] + alpha * row[r] * col[c / inner] * elem[r, c]
//
// rows x cols row-major; each factor is optional (null means 1): row (float64, one value per row:
// the gradient of a float64 row sum or of a scalar loss), col (T, cols / inner values: a bias-like
// vector broadcast over rows, per feature for inner = 1 or per NCHW channel for inner = H*W), elem
// (T, rows x cols). The product is formed in double and rounded once to T. gamma = 0 ignores what
// out held (NaN included); gamma = 1 accumulates, as backward passes do.
// Uses: d sum(x)/dx (rows = 1, row = the scalar gradient), d row_sum, d row_dot(x, a) / dx
// (row = g, col = a) and the per-element factor g[r] * x[r, c] of d row_dot / da.
// CPU reference: broadcast_product_cpu (T = float or double); CUDA (float):
// broadcast_product_cuda (kernels/broadcast_cuda.h), header-only launch_broadcast_product
// (kernels/broadcast.cuh).
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/status.h"

namespace mrbm::kernels {

template <class T>
struct BroadcastProductArgs {
  T* out = nullptr;
  const double* row = nullptr;  // rows values, or null
  const T* col = nullptr;       // cols / inner values, or null
  const T* elem = nullptr;      // rows x cols, or null
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t inner = 1;
  double alpha = 1.0;
  double gamma = 0.0;
};

template <class T>
inline Status validate_broadcast_product_args(const BroadcastProductArgs<T>& a) {
  if (a.rows < 0 || a.cols < 0 || a.inner < 1) return Status::kInvalidArgument;
  if (a.col && a.cols % a.inner != 0) return Status::kInvalidArgument;
  if (a.rows * a.cols > 0 && !a.out) return Status::kInvalidArgument;
  return Status::kOk;
}

// alpha * row[r] * col[channel], multiplied in that order (the per-(row, channel) part).
template <class T>
MRBM_HD double broadcast_product_factor(const BroadcastProductArgs<T>& a, int64_t r, int64_t channel) {
  double v = a.alpha;
  if (a.row) v *= a.row[r];
  if (a.col) v *= static_cast<double>(a.col[channel]);
  return v;
}

// out[i] from its row-and-channel factor: factor * elem[i] (+ gamma * out[i]), rounded once.
template <class T>
MRBM_HD void broadcast_product_finish(const BroadcastProductArgs<T>& a, double factor, int64_t i) {
  double v = factor;
  if (a.elem) v *= static_cast<double>(a.elem[i]);
  if (a.gamma != 0.0) v += a.gamma * static_cast<double>(a.out[i]);
  a.out[i] = static_cast<T>(v);
}

// One element (the CUDA kernel's view): the same two steps, so both paths round identically.
template <class T>
MRBM_HD void broadcast_product_element(const BroadcastProductArgs<T>& a, int64_t i) {
  const int64_t r = i / a.cols, c = i - r * a.cols;
  broadcast_product_finish(a, broadcast_product_factor(a, r, c / a.inner), i);
}

// The CPU loop walks rows and channel runs, so it needs no division per element and its inner
// loop vectorizes.
template <class T>
inline Status broadcast_product_cpu(const BroadcastProductArgs<T>& a) {
  const Status status = validate_broadcast_product_args(a);
  if (status != Status::kOk) return status;
  const int64_t inner = a.col ? a.inner : (a.cols > 0 ? a.cols : 1);  // no col: one run per row
  const int64_t runs = a.cols / inner;
  for (int64_t r = 0; r < a.rows; ++r) {
    for (int64_t ch = 0; ch < runs; ++ch) {
      const double factor = broadcast_product_factor(a, r, ch);
      const int64_t start = r * a.cols + ch * inner;
      for (int64_t i = start; i < start + inner; ++i) broadcast_product_finish(a, factor, i);
    }
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
