// The math of one multinary unit (docs/math.md sections 2 and 7): mean f(x), variance f'(x) and
// free-energy term Phi(x) for every UnitKind of kernels/unit_spec.h, as MRBM_HD functions shared by
// the CPU reference loop and the CUDA kernels (the CPU/GPU pairing rule).
//
//   kBinary       f = sigma(x),        f' = sigma'(x),            Phi = sp(x)
//   kClosedForm   f = N sigma(x/s),    f' = (N/s) sigma'(x/s),    Phi = N s sp(x/s)
//                 (one exp and one log1p, float64 so that f keeps its relative accuracy far below 0;
//                 on the host the vectorizable polynomials of kernels/elementary.h)
//   kEqualCopies  f = sum_k sigma(z_k), f' = sum_k sigma'(z_k),   Phi = sum_k sp(z_k),
//                 z_k = x - theta_k, theta_k = d (k - (N+1)/2), k = 1..N
//   kLogitCopies  the same sums with theta_k = s logit((k - 1/2)/N), read from the float64 table
//
// Copy sums: the window-plus-tails method (docs/math.md section 7) with M = 2 tail terms and one
// window half-width T = kCopyWindowT = 9 for all three quantities. Copies split into
//   H = {z_k > T} = 1..n_high,  W = {-T <= z_k <= T},  L = {z_k < -T} = first_low..N.
// W is summed exactly, H and L by their first two series terms in u = e^{-|z|}:
//   f  = n_high - (R1H - R2H) + sum_W sigma + (R1L - R2L)
//   f' = (R1H - 2 R2H) + (R1L - 2 R2L) + sum_W sigma'
//   Phi = sum_{H,W} z_k + (R1H - R2H/2) + sum_W log(1 + e^{-z_k}) + (R1L - R2L/2),
//   RmH = sum_H e^{-m z_k},  RmL = sum_L e^{m z_k}.
// Why T = 9 (not the table's 7.46): the truncation error of a tail term relative to itself is
// e^{-2T} (sigma), 3 e^{-2T} (sigma'), e^{-2T}/3 (sp), i.e. 4.6e-8 for sigma' at T = 9 against the
// 1e-6 budget, next to the float32 rounding of the outputs (6e-8): the measured maximum is 1.03e-7
// (f' of one copy just above T); at T = 7.46 the truncation alone could use the whole 1e-6 when one copy just past
// the window edge dominates the sum (large spacing). The window grows from 15 to 18 copies at
// spacing 1. One T serves all three quantities so that one window pass yields them all.
// The window is one progression v_k = e^{-z_k}, from its high edge (v = e^{-z_{n_high+1}} >=
// e^{-T}, one float64 exp) upwards: v_{k+1} = v_k e^{theta_{k+1} - theta_k} (e^{d} for equal
// spacing, the table's ratios for logit offsets), so every v is in [e^{-T}, e^{T}]. Per window copy:
// sigma = 1/(1+v), sigma' = v/(1+v)^2, sp = z + log(1+v), with the log terms summed as the log of
// the product of (1+v) (folded into a running log before it can overflow) and the z terms, with the
// saturated copies' z, as one prefix sum. The tails' edge exponentials follow from the window's
// first and last v by one step each (an exp per tail only when the window is empty). For z < 0,
// sp = z + log(1+v) cancels: sp(-9) = 1.2e-4 from two terms near 9 loses 5 of 16 digits, far inside
// the budget. Copies are taken in pairs: one division gives both 1/(1+v). Tails, edge exponents
// and window sums are float64. Measured with float32 window arithmetic (float64 progression, in an
// earlier form of the window with u = e^{-|z|}): f off by 1.04e-6 where the window holds hundreds of
// copies (logit offsets, s = 1, N = 255), and Phi off by 5e-4 because float32 1 + u drops most
// digits of u = e^{-9}; a float32 progression would also compound the ratio's rounding (16 steps:
// 1e-6). Far below the offsets the whole f is the low tail, whose
// exponent x - theta_k must not be rounded to float32 (3.9e-6, docs/math.md section 7).
//
// need_var / need_phi are runtime flags (the functions are force-inlined: with constant or
// loop-invariant flags the compiler drops or hoists the unused work); an output not requested is 0.
//
// Non-finite inputs: x = NaN -> mean, var, phi = NaN; x = +inf -> mean = N, var = 0, phi = +inf;
// x = -inf -> mean = var = phi = 0. Large finite |x| (1e30) gives the limits without NaN.
//
// kLogitCopies table (float64, built on the host by build_copy_table, kernels/multinary_table.h),
// kCopyTableRows rows of N doubles, row-major, entry (row, k) at table[row * N + (k - 1)]:
//   kCopyTableTheta  theta_k = s logit((k - 1/2)/N)          (exactly antisymmetric, theta_{N+1-k} = -theta_k)
//   kCopyTableRatio  e^{theta_{k+1} - theta_k}               (k = N: 0, unused)
//   kCopyTableA1/A2  A^m_k = 1 + e^{m(theta_{k-1} - theta_k)} A^m_{k-1}, A^m_1 = 1   (R^H_m = e^{-m z_{n_high}} A^m_{n_high})
//   kCopyTableB1/B2  B^m_k = 1 + e^{-m(theta_{k+1} - theta_k)} B^m_{k+1}, B^m_N = 1  (R^L_m = e^{m z_{first_low}} B^m_{first_low})
//   kCopyTableQ      Q_k = Q_{k-1} + (k-1)(theta_k - theta_{k-1}), Q_1 = 0           (sum_H z_k = n_high z_{n_high} + Q_{n_high})
//   kCopyTableInvRatio  e^{-(theta_{k+1} - theta_k)}                          (k = N: 0; a window edge to its tail)
//
// Paired reference: unit_values_reference (kernels/multinary_reference.h), the brute-force sum of
// all N copies in long double (tests) or double (benchmark).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/elementary.h"
#include "kernels/hd.h"
#include "kernels/unit_spec.h"

namespace mrbm::kernels {

// Half-width of the exactly evaluated window of copies (see the header comment for the choice).
constexpr double kCopyWindowT = 9.0;
// Largest N that validate_unit_spec accepts.
constexpr int32_t kMaxCopies = 65535;

// Rows of the kLogitCopies table (layout in the header comment).
constexpr int32_t kCopyTableTheta = 0;
constexpr int32_t kCopyTableRatio = 1;
constexpr int32_t kCopyTableA1 = 2;
constexpr int32_t kCopyTableA2 = 3;
constexpr int32_t kCopyTableB1 = 4;
constexpr int32_t kCopyTableB2 = 5;
constexpr int32_t kCopyTableQ = 6;
constexpr int32_t kCopyTableInvRatio = 7;
constexpr int32_t kCopyTableRows = 8;

struct UnitValues {
  float mean;  // f(x), 0 where |f(x)| < FLT_MIN (to_float_flushed)
  float var;   // f'(x), 0 where |f'(x)| < FLT_MIN (and when not requested)
  double phi;  // Phi(x) (0 when not requested); float64 because sums of Phi reach 1e5-1e6
};

// FLT_MIN = 2^-126, the smallest normal float. The pass writes 0 for every mean, variance and
// sample whose magnitude would be below it (docs/math.md section 2, "No denormal outputs"): far
// below the offsets f and f' are denormal floats (closed form: f < FLT_MIN for x/s < -92.9 at
// N = 255), each operation on one costs about 100 cycles on x86 CPUs that do not flush them, and
// they flow into every GEMM of the next step (a 1-64-128 conv RBM stepped 8x slower). Flushing here,
// in the formula both devices share, also makes the CPU and the GPU agree whatever their FTZ/DAZ
// settings. The change is below 1.2e-38 in absolute value, far inside every tolerance.
constexpr double kFloatMinNormal = 1.17549435082228750797e-38;

// v rounded to float, or 0 where |v| < FLT_MIN. The test is on the double, before the rounding, so
// that whether a value just below FLT_MIN would round up to it (and whether the hardware flushes
// such a result) never matters: the result is the same with and without FTZ. NaN passes through.
MRBM_HD float to_float_flushed(double v) {
  return ::fabs(v) < kFloatMinNormal ? 0.0f : static_cast<float>(v);
}

// v, or 0 where |v| < FLT_MIN (a float result that may be denormal; a denormal v read under DAZ
// compares as 0, so this is 0 with or without DAZ).
MRBM_HD float flush_denormal(float v) {
  return ::fabsf(v) < static_cast<float>(kFloatMinNormal) ? 0.0f : v;
}

// For the exact sampler of copy units: the split of the copies at x (docs/math.md section 6).
struct CopyWindow {
  int32_t n_high;        // copies k = 1..n_high are saturated on (z_k = x - theta_k > T)
  int32_t first_low;     // copies k = first_low..N are off (z_k < -T); window: n_high+1 .. first_low-1
  double high_off_mean;  // sum over saturated copies of sigma(theta_k - x) (expected count off)
  double low_on_mean;    // sum over vanishing copies of sigma(x - theta_k) (expected count on)
};

// What a unit's copy sums need that does not depend on x: computed once per pass by
// unit_constants(), not once per element (libm calls the compiler cannot hoist out of the loop).
struct UnitConstants {
  double ratio_equal = 0.0;  // kEqualCopies: e^{d}, the window progression's ratio (inf for d > 745)
  double q_equal = 0.0;      // kEqualCopies: e^{-d}, from a window edge to the next tail copy
  double em1 = 0.0;          // kEqualCopies: e^{-d} - 1, the geometric tails' denominator
  double inv_spacing = 0.0;  // kEqualCopies: 1/d, for the split's count estimates
  float guess_exp_t = 0.0f;  // kLogitCopies: e^{T/s} (float32, exponent clamped), count estimates
  double inv_scale = 1.0;    // kClosedForm: 1/s (z = x/s as a product); kBinary: 1
};

// theta_k, k = 1..N (1-based). kEqualCopies: d (k - (N+1)/2); kLogitCopies: the table's entry;
// kClosedForm: s logit((k - 1/2)/N) computed directly (the half-integer crossings); kBinary: 0.
MRBM_HD double copy_offset(const UnitSpec& u, int32_t k) {
  switch (u.kind) {
    case UnitKind::kEqualCopies:
      // k - (N+1)/2 is a half-integer, exact in float64: one rounding in total.
      return u.spacing * (static_cast<double>(k) - 0.5 * (static_cast<double>(u.n) + 1.0));
    case UnitKind::kLogitCopies:
      return u.table[kCopyTableTheta * u.n + (k - 1)];
    case UnitKind::kClosedForm:
      return u.scale * ::log((static_cast<double>(k) - 0.5) / (static_cast<double>(u.n) - k + 0.5));
    case UnitKind::kBinary:
      break;
  }
  return 0.0;
}

namespace detail {

// Where the copies split at x: 1..n_high have z > T, n_high+1..first_low-1 have -T <= z <= T (the
// window), first_low..N have z < -T.
struct CopySplit {
  int32_t n_high;
  int32_t first_low;
};

// e^{theta_{k+1} - theta_k}, k = 1..N-1. ratio_equal is e^{d} for kEqualCopies.
MRBM_HD double copy_ratio(const UnitSpec& u, int32_t k, double ratio_equal) {
  return u.kind == UnitKind::kLogitCopies ? u.table[kCopyTableRatio * u.n + (k - 1)] : ratio_equal;
}

// Number of copies with z_k > t (kStrict) or z_k >= t, from an estimate `guess` (a real number
// within a few units of the answer) and an exact fix-up on the offsets themselves, so that the
// split agrees with the z_k the evaluation uses whatever the rounding of the estimate.
template <bool kStrict>
MRBM_HD int32_t count_copies_above(const UnitSpec& u, double x, double t, double guess) {
  const double n_max = static_cast<double>(u.n);
  guess = guess > 0.0 ? (guess < n_max ? guess : n_max) : 0.0;  // bounds |x| = 1e30; NaN -> 0
  int32_t n = static_cast<int32_t>(guess);
  auto above = [&](int32_t k) {
    const double z = x - copy_offset(u, k);
    return kStrict ? z > t : z >= t;
  };
  while (n < u.n && above(n + 1)) ++n;
  while (n > 0 && !above(n)) --n;
  return n;
}

// Estimates of #{k : theta_k < x - t} for t = T and -T (up to the fix-up): equal spacing
// k < (x - t)/d + (N+1)/2, logit offsets k < N sigma((x - t)/s) + 1/2. For the logit offsets one
// float32 e^{-x/s} serves both through e^{+-T/s} (float32 is plenty: the fix-up corrects the
// last unit; e^{T/s} is one of the UnitConstants). Both exponents are clamped to +-80 so that no product is
// 0 * inf: beyond that sigma is 0 or 1 to float precision, and a clamped T/s (s < 0.11) only makes
// the fix-up walk further.
MRBM_HD float clamp_exponent(double a) {
  return static_cast<float>(a < -80.0 ? -80.0 : (a > 80.0 ? 80.0 : a));
}

struct CopyCountGuesses {
  double high, low;
};

MRBM_HD CopyCountGuesses copy_count_guesses(const UnitSpec& u, const UnitConstants& c, double x) {
  const double t = kCopyWindowT;
  const double half = 0.5 * (static_cast<double>(u.n) + 1.0);
  if (u.kind == UnitKind::kEqualCopies) {
    // (the product with 1/d rounds differently from a quotient; the fix-up absorbs it)
    const double inv_d = c.inv_spacing;
    return {(x - t) * inv_d + half, (x + t) * inv_d + half};
  }
  const float n = static_cast<float>(u.n);
  const float e = ::expf(clamp_exponent(-x / u.scale));
  const float e_t = c.guess_exp_t;
  return {static_cast<double>(n / (1.0f + e * e_t)) + 0.5,
          static_cast<double>(n / (1.0f + e / e_t)) + 0.5};
}

MRBM_HD CopySplit copy_split(const UnitSpec& u, const UnitConstants& c, double x) {
  const double t = kCopyWindowT;
  const CopyCountGuesses g = copy_count_guesses(u, c, x);
  CopySplit s;
  s.n_high = count_copies_above<true>(u, x, t, g.high);
  s.first_low = count_copies_above<false>(u, x, -t, g.low) + 1;
  return s;
}

// The two series terms of each tail and sum_H z_k, from the edge exponentials
// e_high = e^{-z_{n_high}} and e_low = e^{z_{first_low}}.
struct CopyTails {
  double r1_high, r2_high;  // R^H_1, R^H_2
  double r1_low, r2_low;    // R^L_1, R^L_2
};

// Geometric factors (1 - q^n)/(1 - q) and (1 - q^{2n})/(1 - q^2), q = e^{-d}, for n equally spaced
// tail copies; em1 = expm1(-d).
MRBM_HD void equal_tail_factors(double* g1, double* g2, int32_t n, double d, double em1) {
  // e^{-n d} below 2^-60 changes nothing in float64: skip the exp for long tails.
  const double nd = static_cast<double>(n) * d;
  const double en1 = nd < 42.0 ? ::expm1(-nd) : -1.0;
  *g1 = en1 / em1;
  *g2 = (en1 * (2.0 + en1)) / (em1 * (2.0 + em1));  // e^{-2a} - 1 = (e^{-a} - 1)(e^{-a} + 1)
}

MRBM_HD CopyTails copy_tails(const UnitSpec& u, const CopySplit& s, double e_high, double e_low,
                             double em1) {
  CopyTails r{0.0, 0.0, 0.0, 0.0};
  const int32_t n_low = u.n - s.first_low + 1;
  if (u.kind == UnitKind::kLogitCopies) {
    if (s.n_high > 0) {
      r.r1_high = e_high * u.table[kCopyTableA1 * u.n + (s.n_high - 1)];
      r.r2_high = e_high * e_high * u.table[kCopyTableA2 * u.n + (s.n_high - 1)];
    }
    if (n_low > 0) {
      r.r1_low = e_low * u.table[kCopyTableB1 * u.n + (s.first_low - 1)];
      r.r2_low = e_low * e_low * u.table[kCopyTableB2 * u.n + (s.first_low - 1)];
    }
  } else {
    double g1, g2;
    if (s.n_high > 0) {
      equal_tail_factors(&g1, &g2, s.n_high, u.spacing, em1);
      r.r1_high = e_high * g1;
      r.r2_high = e_high * e_high * g2;
    }
    if (n_low > 0) {
      equal_tail_factors(&g1, &g2, n_low, u.spacing, em1);
      r.r1_low = e_low * g1;
      r.r2_low = e_low * e_low * g2;
    }
  }
  return r;
}

// sum_{k=1}^{n} z_k (n >= 1).
MRBM_HD double copy_z_prefix_sum(const UnitSpec& u, double x, int32_t n) {
  const double z_n = x - copy_offset(u, n);
  if (u.kind == UnitKind::kLogitCopies) {
    return static_cast<double>(n) * z_n + u.table[kCopyTableQ * u.n + (n - 1)];
  }
  const double z_1 = x - copy_offset(u, 1);
  return static_cast<double>(n) * 0.5 * (z_1 + z_n);
}

// Running sums over the window copies.
struct WindowSums {
  double mean = 0.0;
  double var = 0.0;
  double log_sum = 0.0;   // log of the folded part of the product of (1 + v)
  double product = 1.0;   // product of (1 + v) since the last fold, < 2^926
};

// Folds the product into log_sum before it can overflow. A window factor is at most 1 + e^T < 2^13
// and a pair's 2^26, so 2^900 leaves room; typical windows (tens of copies) never fold, which keeps
// the branch predictable and the log out of the loop.
MRBM_HD void window_fold(WindowSums& w) {
  if (w.product > 0x1p900) {
    w.log_sum += ::log(w.product);
    w.product = 1.0;
  }
}

// Two window copies a, b with v = e^{-z}: sigma = 1/(1+v), sigma' = v/(1+v)^2, and 1+v into the
// product. One division serves both: 1/(1+v_a) = (1+v_b)/((1+v_a)(1+v_b)) (two extra roundings,
// 2e-16 against the 1e-6 budget); the divider, not the multiplies, bounds this loop.
MRBM_HD void window_pair(WindowSums& w, double v_a, double v_b, bool need_var, bool need_phi) {
  const double a_a = 1.0 + v_a;
  const double a_b = 1.0 + v_b;
  const double a = a_a * a_b;
  const double inv = 1.0 / a;
  const double r_a = a_b * inv;
  const double r_b = a_a * inv;
  w.mean += r_a + r_b;
  if (need_var) w.var += v_a * r_a * r_a + v_b * r_b * r_b;
  if (need_phi) {
    w.product *= a;
    window_fold(w);
  }
}

// One window copy (an odd window's last).
MRBM_HD void window_single(WindowSums& w, double v, bool need_var, bool need_phi) {
  const double a = 1.0 + v;
  const double r = 1.0 / a;
  w.mean += r;
  if (need_var) w.var += v * r * r;
  if (need_phi) {
    w.product *= a;
    window_fold(w);
  }
}

// e^{-(theta_{k+1} - theta_k)}: the step from window copy k+1 (or k) to tail copy k (or k+1).
MRBM_HD double copy_inv_ratio(const UnitSpec& u, int32_t k, const UnitConstants& c) {
  return u.kind == UnitKind::kLogitCopies ? u.table[kCopyTableInvRatio * u.n + (k - 1)] : c.q_equal;
}

MRBM_HD UnitValues copy_values(const UnitSpec& u, const UnitConstants& c, double x, bool need_var,
                               bool need_phi) {
  const CopySplit s = copy_split(u, c, x);
  const int32_t last = s.first_low - 1;  // window copies: n_high+1 .. last
  const bool has_window = last > s.n_high;
  const bool has_high = s.n_high > 0;
  const bool has_low = s.first_low <= u.n;

  // One exp at the window's high edge, v = e^{-z_{n_high+1}} >= e^{-T}; the high tail's edge
  // e^{-z_{n_high}} follows by one step. Without a window each tail edge takes its own exp.
  double v = 0.0, e_high = 0.0, e_low = 0.0;
  if (has_window) {
    v = ::exp(-(x - copy_offset(u, s.n_high + 1)));
    if (has_high) e_high = v * copy_inv_ratio(u, s.n_high, c);
  } else if (has_high) {
    e_high = ::exp(-(x - copy_offset(u, s.n_high)));
  }

  // The window in one progression v_{k+1} = v_k e^{theta_{k+1} - theta_k} (e^d for equal spacing,
  // the table's ratios for logit offsets), from e^{-T} up to at most e^{T}, in pairs.
  WindowSums w;
  double v_last = v;
  int32_t k = s.n_high + 1;
  while (k + 1 <= last) {
    const double r_k = copy_ratio(u, k, c.ratio_equal);
    const double v_b = v * r_k;
    window_pair(w, v, v_b, need_var, need_phi);
    v_last = v_b;
    k += 2;
    // v_{k+2} = v_k (r_k r_{k+1}): the ratio product is off the dependency chain, so the chain
    // has one multiply per pair, not two.
    if (k <= last) v *= r_k * copy_ratio(u, k - 1, c.ratio_equal);
  }
  if (k == last) {
    window_single(w, v, need_var, need_phi);
    v_last = v;
  }
  // The low tail's edge e^{z_{first_low}} = e^{-(theta_fl - theta_{fl-1})} / v_{fl-1}.
  if (has_low) {
    e_low = has_window ? copy_inv_ratio(u, last, c) / v_last : ::exp(x - copy_offset(u, s.first_low));
  }
  const CopyTails tl = copy_tails(u, s, e_high, e_low, c.em1);

  UnitValues out;
  const double mean = static_cast<double>(s.n_high) - (tl.r1_high - tl.r2_high) + w.mean +
                      (tl.r1_low - tl.r2_low);
  out.mean = to_float_flushed(mean);
  out.var = need_var ? to_float_flushed((tl.r1_high - 2.0 * tl.r2_high) +
                                        (tl.r1_low - 2.0 * tl.r2_low) + w.var)
                     : 0.0f;
  out.phi = 0.0;
  if (need_phi) {
    // sp(z) = z + log1p(e^{-z}) = z + log(1 + v): over H and W the z_k sum to the prefix sum over
    // 1..last, the window adds the log of its product, the tails their series.
    const double z_sum = last > 0 ? copy_z_prefix_sum(u, x, last) : 0.0;
    out.phi = z_sum + (tl.r1_high - 0.5 * tl.r2_high) + w.log_sum + ::log(w.product) +
              (tl.r1_low - 0.5 * tl.r2_low);
  }
  return out;
}

// kBinary (N = 1, s = 1) and kClosedForm: one exp and one log1p in float64, branch free (selects
// only) with the polynomial exp/log1p of kernels/elementary.h, so that the CPU loop of
// kernels/multinary_cpu.cpp vectorizes. Finite x only (unit_values handles the others first).
// inv_s = 1/s (UnitConstants::inv_scale): z = x/s as a product, within an ulp of the quotient. On
// the host one division serves both 1/(1 + u) and log1p's t = u/(2 + u): with D = 1/((1 + u)(2 +
// u)), r = (2 + u) D and t = u (1 + u) D (each within 2 ulp; divisions cost most of the loop).
MRBM_HD UnitValues closed_form_values(double n, double s, double inv_s, double x, bool need_var,
                                      bool need_phi) {
  const double z = x * inv_s;
  const double uz = exp_nonpositive(-::fabs(z));
#if defined(__CUDA_ARCH__)
  const double r = 1.0 / (1.0 + uz);
#else
  const double d = 1.0 / ((1.0 + uz) * (2.0 + uz));
  const double r = (2.0 + uz) * d;
#endif
  const double below = uz * r;  // computed unconditionally: a select of two values vectorizes
  UnitValues v;
  v.mean = to_float_flushed(n * (z >= 0.0 ? r : below));
  v.var = need_var ? to_float_flushed(n * inv_s * (uz * r * r)) : 0.0f;
  if (need_phi) {
#if defined(__CUDA_ARCH__)
    const double log1p_u = ::log1p(uz);
#else
    const double t = uz * (1.0 + uz) * d;
    const double log1p_u = 2.0 * t * atanh_series(t * t);
#endif
    v.phi = n * s * ((z > 0.0 ? z : 0.0) + log1p_u);
  } else {
    v.phi = 0.0;
  }
  return v;
}

}  // namespace detail

// The constants of u (UnitConstants); u must be valid. Equal spacing: ratio, q and expm1(-d) from
// one exp (q - 1 has relative error < 3 eps for d >= 0.35; below that expm1 keeps it exact).
MRBM_HD UnitConstants unit_constants(const UnitSpec& u) {
  UnitConstants c;
  if (u.kind == UnitKind::kEqualCopies) {
    c.q_equal = ::exp(-u.spacing);
    c.ratio_equal = 1.0 / c.q_equal;  // inf for d > 745: no window half has two copies then
    c.em1 = u.spacing < 0.35 ? ::expm1(-u.spacing) : c.q_equal - 1.0;
    c.inv_spacing = 1.0 / u.spacing;
  } else if (u.kind == UnitKind::kLogitCopies) {
    c.guess_exp_t = ::expf(detail::clamp_exponent(kCopyWindowT / u.scale));
  } else if (u.kind == UnitKind::kClosedForm) {
    c.inv_scale = 1.0 / u.scale;
  }
  return c;
}

// f, f', Phi of unit u at pre-activation x (see the header comment for the method and the
// conventions at non-finite x). u must be valid (validate_unit_spec); c = unit_constants(u).
MRBM_HD UnitValues unit_values(const UnitSpec& u, const UnitConstants& c, float x, bool need_var,
                               bool need_phi) {
  const double n = static_cast<double>(u.n);
  if (!(::fabsf(x) <= 3.402823466e+38f)) {  // NaN or +-inf
    UnitValues v;
    const bool nan = x != x;
    v.mean = nan ? x : (x > 0.0f ? static_cast<float>(n) : 0.0f);
    v.var = nan ? x : 0.0f;
    v.phi = nan ? static_cast<double>(x) : (x > 0.0f ? static_cast<double>(x) : 0.0);
    if (!need_var) v.var = 0.0f;
    if (!need_phi) v.phi = 0.0;
    return v;
  }
  const double xd = static_cast<double>(x);
  switch (u.kind) {
    case UnitKind::kBinary:
      return detail::closed_form_values(1.0, 1.0, 1.0, xd, need_var, need_phi);
    case UnitKind::kClosedForm:
      return detail::closed_form_values(n, u.scale, c.inv_scale, xd, need_var, need_phi);
    case UnitKind::kEqualCopies:
    case UnitKind::kLogitCopies:
      return detail::copy_values(u, c, xd, need_var, need_phi);
  }
  return UnitValues{0.0f, 0.0f, 0.0};
}

// The same, computing the constants on the spot (single evaluations, tests).
MRBM_HD UnitValues unit_values(const UnitSpec& u, float x, bool need_var, bool need_phi) {
  return unit_values(u, unit_constants(u), x, need_var, need_phi);
}

// The split of a copy unit's copies at x for the exact sampler (kEqualCopies, kLogitCopies).
// Window copies are n_high+1 .. first_low-1; the means are the M = 2 tail sums (sigma(-z) for
// z > T is e^{-z} - e^{-2z} + ..., relative truncation error e^{-2T}). NaN x: {0, 1, 0, NaN}.
// c = unit_constants(u).
MRBM_HD CopyWindow copy_window(const UnitSpec& u, const UnitConstants& c, float x) {
  CopyWindow w{0, 1, 0.0, 0.0};
  if (x != x) {
    w.low_on_mean = static_cast<double>(x);
    return w;
  }
  if (x > 3.402823466e+38f) {  // +inf: all copies saturated on, none off
    w.n_high = u.n;
    w.first_low = u.n + 1;
    return w;
  }
  if (x < -3.402823466e+38f) return w;  // -inf: all copies off, none on
  const double xd = static_cast<double>(x);
  const detail::CopySplit s = detail::copy_split(u, c, xd);
  const double em1 = c.em1;
  const double e_high = s.n_high > 0 ? ::exp(-(xd - copy_offset(u, s.n_high))) : 0.0;
  const double e_low = s.first_low <= u.n ? ::exp(xd - copy_offset(u, s.first_low)) : 0.0;
  const detail::CopyTails t = detail::copy_tails(u, s, e_high, e_low, em1);
  w.n_high = s.n_high;
  w.first_low = s.first_low;
  w.high_off_mean = t.r1_high - t.r2_high;
  w.low_on_mean = t.r1_low - t.r2_low;
  return w;
}

// The same, computing the constants on the spot (single evaluations, tests).
MRBM_HD CopyWindow copy_window(const UnitSpec& u, float x) {
  return copy_window(u, unit_constants(u), x);
}

}  // namespace mrbm::kernels
