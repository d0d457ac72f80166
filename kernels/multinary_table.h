// Host-side helpers of the multinary unit math (kernels/multinary_math.h): validation of a UnitSpec
// and the float64 table of kLogitCopies units. Header-only (inline) so that a CUDA project embedding
// the kernels needs no compiled part of mrbm; host code only (no CUDA), never throws or prints.
//
// Table (copy_table_size(N) = kCopyTableRows * N doubles, row-major, entry (row, k), k = 1..N, at
// table[row * N + (k - 1)]; rows named in kernels/multinary_math.h):
//   theta_k = s logit((k - 1/2)/N) = s log((k - 1/2)/(N - k + 1/2))      (mirrored: theta_{N+1-k} = -theta_k)
//   ratio_k = e^{theta_{k+1} - theta_k}  (k < N; ratio_N = 0)           window progression
//   A^m_k   = 1 + e^{m (theta_{k-1} - theta_k)} A^m_{k-1},  A^m_1 = 1     R^H_m = e^{-m z_{n_high}} A^m_{n_high}
//   B^m_k   = 1 + e^{-m (theta_{k+1} - theta_k)} B^m_{k+1}, B^m_N = 1     R^L_m = e^{m z_{first_low}} B^m_{first_low}
//   Q_k     = Q_{k-1} + (k - 1)(theta_k - theta_{k-1}),      Q_1 = 0      sum_{j<=k} z_j = k z_k + Q_k
//   inv_ratio_k = e^{-(theta_{k+1} - theta_k)}  (k < N; 0 for k = N)     window edge -> first tail copy
// (m = 1, 2; docs/math.md section 7). All terms of A, B, Q are positive: the recurrences lose no
// accuracy. The caller copies the table to the device where the kernel runs and sets UnitSpec::table.
// Paired reference: copy_offset_reference (kernels/multinary_reference.h) computes theta_k
// independently in long double.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/multinary_math.h"
#include "kernels/status.h"
#include "kernels/unit_spec.h"

namespace mrbm::kernels {

namespace detail {
inline bool finite_positive(double v) { return v > 0.0 && v <= 1.7976931348623157e308; }
}  // namespace detail

// kOk when u can be evaluated: 1 <= N <= kMaxCopies (N == 1 for kBinary); scale finite > 0 for
// kClosedForm and kLogitCopies; spacing finite > 0 for kEqualCopies; table non-null for kLogitCopies.
inline Status validate_unit_spec(const UnitSpec& u) {
  if (u.n < 1 || u.n > kMaxCopies) return Status::kInvalidArgument;
  switch (u.kind) {
    case UnitKind::kBinary:
      return u.n == 1 ? Status::kOk : Status::kInvalidArgument;
    case UnitKind::kClosedForm:
      return detail::finite_positive(u.scale) ? Status::kOk : Status::kInvalidArgument;
    case UnitKind::kEqualCopies:
      return detail::finite_positive(u.spacing) ? Status::kOk : Status::kInvalidArgument;
    case UnitKind::kLogitCopies:
      return detail::finite_positive(u.scale) && u.table != nullptr ? Status::kOk
                                                                    : Status::kInvalidArgument;
  }
  return Status::kInvalidArgument;  // unknown kind
}

// Number of doubles of the kLogitCopies table for N = n copies (0 for n < 1).
inline int64_t copy_table_size(int32_t n) {
  return n < 1 ? 0 : static_cast<int64_t>(kCopyTableRows) * n;
}

// Fills table (copy_table_size(u.n) doubles, host memory) for the kLogitCopies unit u (u.table is
// ignored). kInvalidArgument when table is null, u is not kLogitCopies, N is out of range or the
// scale is not finite and positive.
inline Status build_copy_table(double* table, const UnitSpec& u) {
  if (table == nullptr || u.kind != UnitKind::kLogitCopies || u.n < 1 || u.n > kMaxCopies ||
      !detail::finite_positive(u.scale)) {
    return Status::kInvalidArgument;
  }
  const int32_t n = u.n;
  const double nd = static_cast<double>(n);
  double* theta = table + static_cast<int64_t>(kCopyTableTheta) * n;
  double* ratio = table + static_cast<int64_t>(kCopyTableRatio) * n;
  double* a1 = table + static_cast<int64_t>(kCopyTableA1) * n;
  double* a2 = table + static_cast<int64_t>(kCopyTableA2) * n;
  double* b1 = table + static_cast<int64_t>(kCopyTableB1) * n;
  double* b2 = table + static_cast<int64_t>(kCopyTableB2) * n;
  double* q = table + static_cast<int64_t>(kCopyTableQ) * n;
  double* inv_ratio = table + static_cast<int64_t>(kCopyTableInvRatio) * n;
  // theta_k (index k - 1): numerator and denominator are exact half-integers, so one rounding in
  // the quotient and one in the log; the upper half mirrors the lower half exactly, so the offsets
  // are antisymmetric about 0 like the closed form they approximate.
  for (int32_t k = 1; k <= n; ++k) {
    const int32_t mirror = n + 1 - k;
    if (k > mirror) {
      theta[k - 1] = -theta[mirror - 1];
    } else if (k == mirror) {
      theta[k - 1] = 0.0;
    } else {
      theta[k - 1] = u.scale * std::log((static_cast<double>(k) - 0.5) / (nd - k + 0.5));
    }
  }
  for (int32_t k = 1; k < n; ++k) {
    ratio[k - 1] = std::exp(theta[k] - theta[k - 1]);
    inv_ratio[k - 1] = std::exp(theta[k - 1] - theta[k]);  // not 1/ratio: one rounding, not two
  }
  ratio[n - 1] = 0.0;
  inv_ratio[n - 1] = 0.0;
  a1[0] = 1.0;
  a2[0] = 1.0;
  q[0] = 0.0;
  for (int32_t k = 2; k <= n; ++k) {
    const double gap = theta[k - 1] - theta[k - 2];  // theta_k - theta_{k-1} > 0
    a1[k - 1] = 1.0 + std::exp(-gap) * a1[k - 2];
    a2[k - 1] = 1.0 + std::exp(-2.0 * gap) * a2[k - 2];
    q[k - 1] = q[k - 2] + static_cast<double>(k - 1) * gap;
  }
  b1[n - 1] = 1.0;
  b2[n - 1] = 1.0;
  for (int32_t k = n - 1; k >= 1; --k) {
    const double gap = theta[k] - theta[k - 1];  // theta_{k+1} - theta_k > 0
    b1[k - 1] = 1.0 + std::exp(-gap) * b1[k];
    b2[k - 1] = 1.0 + std::exp(-2.0 * gap) * b2[k];
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
