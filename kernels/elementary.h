// The elementary functions of the closed-form unit (kernels/multinary_math.h) and of Box-Muller
// (kernels/philox.h), written so that the CPU loops over elements vectorize: no branches, no libm
// calls, only +, *, /, selects and bit moves. On the device they are CUDA's own exp, log1p, log and
// cos (a call costs nothing extra there).
//
//   exp_nonpositive(a) = e^a for a <= 0 (a = -|z|); exactly 0 for a < -708 and for a = -inf.
//       k = round(a / ln 2) by the 1.5 * 2^52 rounding trick, r = a - k ln 2 with ln 2 split in two
//       (k ln2_hi exact), |r| <= ln(2)/2; e^r by its Taylor polynomial of degree 12 (truncation
//       (ln(2)/2)^13 / 13! = 1.7e-16); times 2^k assembled from the exponent bits.
//       Measured: max relative error 3.8e-16 over [-708, 0] (test/test_elementary.cpp, against
//       long double libm).
//   log1p_unit(u) = log(1 + u) for 0 <= u <= 1 (u = e^{-|z|}).
//       t = u / (2 + u) in [0, 1/3] (no rounding of 1 + u, so tiny u keeps its digits),
//       log1p(u) = 2 atanh(t) = 2 t sum_{j>=0} t^{2j} / (2j + 1), 15 terms (t^2 <= 1/9: truncation
//       (1/9)^15 / 31 = 1.6e-16 relative). Measured: max relative error 4.9e-16.
//   log_unit_interval(u) = log(u) for 2^-53 <= u <= 1 (Box-Muller's uniform, kernels/philox.h).
//       u = m 2^e with m in [sqrt(1/2), sqrt(2)) from the bits, log(m) = 2 atanh(t),
//       t = (m - 1)/(m + 1), |t| <= 0.172, the same 15-term series (truncation below 1e-23).
//       Measured: max relative error 4.1e-16.
//   cos_two_pi(u) = cos(2 pi u) for 0 <= u <= 1: reduced to theta = 2 pi |y| in [0, pi/2],
//       y = u - round(u) folded at 1/4 (cos(2 pi (1/2 - w)) = -cos(2 pi w)), then the Taylor
//       polynomial of cos of degree 24 ((pi/2)^26 / 26! = 1.6e-21). Measured: max absolute error
//       3.3e-16 (near the zeros the sum cancels terms up to 2.5: absolute, not relative, accuracy).
// Non-finite or out-of-range arguments are the caller's business (unit_values handles them first).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/hd.h"

namespace mrbm::kernels {

MRBM_HD double exp_nonpositive(double a) {
#if defined(__CUDA_ARCH__)
  return ::exp(a);
#else
  const double in_range = a >= -708.0 ? 1.0 : 0.0;  // also 0 for -inf and NaN
  const double ac = a >= -708.0 ? a : -708.0;
  const double magic = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double kd = ac * 1.4426950408889634074 + magic;
  const double k = kd - magic;
  // ln 2 = ln2_hi + ln2_lo, ln2_hi with 32 trailing zero bits so that k * ln2_hi is exact.
  const double r = (ac - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
  double p = 1.0 / 479001600.0;  // 1/12!
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k from its exponent field: the low bits of kd hold k (two's complement), -1022 <= k <= 0.
  int64_t kd_bits, magic_bits;
  std::memcpy(&kd_bits, &kd, sizeof kd_bits);
  std::memcpy(&magic_bits, &magic, sizeof magic_bits);
  const int64_t scale_bits = (kd_bits - magic_bits + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale * in_range;
#endif
}

// sum_{j=0}^{14} w^j / (2j + 1), so that atanh(t) = t atanh_series(t^2): the series of log1p_unit
// (t^2 <= 1/9, truncation 1.6e-16) and of log_unit_interval (t^2 <= 0.0295, far below).
MRBM_HD double atanh_series(double w) {
  double s = 1.0 / 29.0;
  s = s * w + 1.0 / 27.0;
  s = s * w + 1.0 / 25.0;
  s = s * w + 1.0 / 23.0;
  s = s * w + 1.0 / 21.0;
  s = s * w + 1.0 / 19.0;
  s = s * w + 1.0 / 17.0;
  s = s * w + 1.0 / 15.0;
  s = s * w + 1.0 / 13.0;
  s = s * w + 1.0 / 11.0;
  s = s * w + 1.0 / 9.0;
  s = s * w + 1.0 / 7.0;
  s = s * w + 1.0 / 5.0;
  s = s * w + 1.0 / 3.0;
  return s * w + 1.0;
}

MRBM_HD double log1p_unit(double u) {
#if defined(__CUDA_ARCH__)
  return ::log1p(u);
#else
  const double t = u / (2.0 + u);
  const double s = atanh_series(t * t);
  return 2.0 * t * s;
#endif
}

MRBM_HD double log_unit_interval(double u) {
#if defined(__CUDA_ARCH__)
  return ::log(u);
#else
  uint64_t bits;
  std::memcpy(&bits, &u, sizeof bits);
  // Exponent e and mantissa m in [1, 2); then m in [sqrt(1/2), sqrt(2)) by moving one factor 2.
  // The biased exponent (u > 0: no sign bit) becomes a double through the 2^52 trick, because
  // int64 -> double conversions vectorize only with AVX-512.
  const uint64_t e_bits = (bits >> 52) | 0x4330000000000000ULL;
  double e;
  std::memcpy(&e, &e_bits, sizeof e);
  e = (e - 4503599627370496.0) - 1023.0;  // - 2^52, - bias: exact
  const uint64_t m_bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  double m;
  std::memcpy(&m, &m_bits, sizeof m);
  const bool high = m > 1.4142135623730951;
  const double half_m = 0.5 * m;  // exact
  m = high ? half_m : m;
  e = high ? e + 1.0 : e;
  const double t = (m - 1.0) / (m + 1.0);
  const double s = atanh_series(t * t);
  // ln 2 split in two so that e * ln2_hi is exact (|e| <= 53).
  return (e * 6.93147180369123816490e-01 + 2.0 * t * s) + e * 1.90821492927058770002e-10;
#endif
}

MRBM_HD double cos_two_pi(double u) {
#if defined(__CUDA_ARCH__)
  return ::cos(6.283185307179586476925 * u);
#else
  const double magic = 6755399441055744.0;  // rounds to the nearest integer
  const double y = u - ((u + magic) - magic);
  double w = y < 0.0 ? -y : y;  // cos is even: w in [0, 1/2]
  const bool fold = w > 0.25;
  const double folded = 0.5 - w;  // exact (Sterbenz)
  w = fold ? folded : w;
  const double theta = 6.283185307179586476925 * w;  // [0, pi/2]
  const double q = theta * theta;
  double c = 1.0 / 620448401733239439360000.0;  // 1/24!
  c = c * q - 1.0 / 1124000727777607680000.0;   // 1/22!
  c = c * q + 1.0 / 2432902008176640000.0;      // 1/20!
  c = c * q - 1.0 / 6402373705728000.0;         // 1/18!
  c = c * q + 1.0 / 20922789888000.0;           // 1/16!
  c = c * q - 1.0 / 87178291200.0;              // 1/14!
  c = c * q + 1.0 / 479001600.0;                // 1/12!
  c = c * q - 1.0 / 3628800.0;                  // 1/10!
  c = c * q + 1.0 / 40320.0;                    // 1/8!
  c = c * q - 1.0 / 720.0;                      // 1/6!
  c = c * q + 1.0 / 24.0;                       // 1/4!
  c = c * q - 0.5;
  c = c * q + 1.0;
  return fold ? -c : c;
#endif
}

}  // namespace mrbm::kernels
