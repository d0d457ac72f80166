// Discrete random variates drawn from a PhiloxStream (kernels/philox.h): Bernoulli, Poisson, binomial.
// Used by the exact samplers of docs/math.md section 6 (binary units: Bernoulli; closed form:
// Binomial(N s, sigma(x/s)); windowed copies: Bernoulli per window copy and Poisson for the tails).
//
//   sample_bernoulli(rng, p)      P(1) = p. One word u: returns u < p * 2^32, so P(1) = ceil(p 2^32) / 2^32
//                                 (within 2^-32 of p; p = 0 and p = 1 exact).
//   sample_poisson(rng, lambda)   P(k) = e^-lambda lambda^k / k!.
//                                 lambda < 10: inversion (sequential search from k = 0, one 53-bit
//                                 uniform, expected lambda + 1 steps).
//                                 lambda >= 10: PTRS, transformed rejection with squeeze (W. Hormann,
//                                 "The transformed rejection method for generating Poisson random
//                                 variables", Insurance: Mathematics and Economics 12, 1993), exact;
//                                 two uniforms per round, 2.7 (lambda = 10) to 2.25 (large lambda)
//                                 uniforms per draw on average.
//   sample_binomial(rng, n, p)    P(k) = C(n, k) p^k (1-p)^(n-k). By symmetry p' = min(p, 1-p) (and
//                                 k -> n - k when p > 1/2).
//                                 n p' < 10: inversion (sequential search, one 53-bit uniform).
//                                 n p' >= 10: BTRD, transformed rejection with decomposition
//                                 (W. Hormann, "The generation of binomial random variates", J. Statist.
//                                 Comput. Simul. 46, 1993), exact; 2.0 (n p' near 10) to 1.4 (large
//                                 n p (1-p)) uniforms per draw on average.
// "Exact" means: the only departures from the pmf are the 2^-53 grid of the uniforms, double rounding
// in the acceptance tests, and the Stirling series of the log-factorial correction (truncated after
// the x^-9 term: error < 1e-14 in the log acceptance bound). The inversions restart (draw a fresh
// uniform) if the search passes k = 110 (reached only through rounding: the mass beyond 110 is below
// 1e-60 when the mean is below 10), so they never loop forever.
//
// Edge cases (defined, tested in test/test_random_distributions.cpp). A count cannot carry a NaN, so
// a NaN parameter yields 0; callers that write float samples and want NaN to propagate test their
// input themselves (a NaN pre-activation already makes the mean and the loss NaN).
//   bernoulli: p <= 0 or NaN -> 0;  p >= 1 -> 1.
//   binomial:  n <= 0 -> 0;  p <= 0 or NaN -> 0;  p >= 1 -> n.
//   poisson:   lambda <= 0 or NaN -> 0;  lambda >= 2^31 (incl. +inf) -> INT32_MAX (saturated; below
//              that the draw is exact, its int32 value clamped to INT32_MAX; the PTRS acceptance test
//              loses about 1e-16 lambda log(lambda) absolute precision, e.g. 2e-6 at lambda = 1e9).
//
// The random words a draw consumes depend only on the stream's state and the parameters, so the CPU
// reference and a CUDA kernel produce the same value, up to last-ulp differences of the double
// arithmetic (CUDA's log/exp vs glibc's, FMA contraction by nvcc) that can flip a floor() or an
// acceptance test only when a value lies within ~1e-16 (relative) of the boundary: of the order of
// 1e-13 per draw. Rejection loops branch per element; their expected trip counts are small
// (inversion: mean + 1 steps; PTRS and BTRD: 1.1 to 1.35 rounds).
// All state lives in scalars (no arrays). BTRD keeps only the constants of its first steps live across
// the draws and recomputes the rest on rejection. Registers of a one-call test kernel (nvcc 13,
// sm_90): bernoulli 15, poisson 80, binomial 90, normal 34: a kernel that inlines the exact sampler
// pays for it even when another sampler is selected at run time.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"

namespace mrbm::kernels {

namespace detail {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2
constexpr double kInversionMaxK = 110.0;  // restart bound of the inversion searches (see header)
constexpr double kInversionLimit = 10.0;  // mean below which inversion beats rejection

// Stirling correction fc(k) = log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi) / 2], k >= 0
// integral (Hormann's f_c). k < 10: from k! itself (at most 9! = 362880, exact in double, so the
// product loop has no rounding; the cancellation costs ~1e-15 absolute). k >= 10: the Stirling
// series in 1/(k+1), truncated after the x^-9 term (next term 691/360360 x^-11 < 7e-15 at x = 11).
MRBM_HD double stirling_correction(double k) {
  if (k < 10.0) {
    double factorial = 1.0;
    for (double i = 2.0; i <= k; i += 1.0) factorial *= i;
    return ::log(factorial) - ((k + 0.5) * ::log(k + 1.0) - (k + 1.0) + kHalfLog2Pi);
  }
  const double x = 1.0 / (k + 1.0);
  const double x2 = x * x;
  return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - x2 / 1188.0) * x2) * x2) * x2) * x;
}

// log(k!) through the correction above: avoids lgamma, whose host version writes the global
// `signgam` (a data race when CPU threads sample concurrently).
MRBM_HD double log_factorial(double k) {
  return (k + 0.5) * ::log(k + 1.0) - (k + 1.0) + kHalfLog2Pi + stirling_correction(k);
}

// Poisson by inversion, 0 < lambda < 10.
MRBM_HD int32_t poisson_inversion(PhiloxStream& rng, double lambda) {
  const double p0 = ::exp(-lambda);
  for (;;) {
    double u = rng.uniform_double();
    double pk = p0;
    double k = 0.0;
    // Walk the cdf: return the first k with u <= P(0) + ... + P(k), subtracting as we go.
    while (u > pk && k <= kInversionMaxK) {
      u -= pk;
      k += 1.0;
      pk *= lambda / k;
    }
    if (k <= kInversionMaxK) return static_cast<int32_t>(k);
  }
}

// Poisson by PTRS (Hormann 1993), 10 <= lambda < 2^31. Returns the draw clamped to INT32_MAX.
MRBM_HD int32_t poisson_ptrs(PhiloxStream& rng, double lambda) {
  const double slam = ::sqrt(lambda);
  const double loglam = ::log(lambda);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double log_inv_alpha = ::log(1.1239 + 1.1328 / (b - 3.4));
  const double vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = rng.uniform_double() - 0.5;
    const double v = rng.uniform_double();
    const double us = 0.5 - ::fabs(u);
    const double k = ::floor((2.0 * a / us + b) * u + lambda + 0.43);
    // Inside the box (|u| <= 0.43, v <= vr) the hat lies under the pmf: accept without a test.
    if (us >= 0.07 && v <= vr) return k < 2147483647.0 ? static_cast<int32_t>(k) : INT32_MAX;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (::log(v) + log_inv_alpha - ::log(a / (us * us) + b) <= -lambda + k * loglam - log_factorial(k)) {
      return k < 2147483647.0 ? static_cast<int32_t>(k) : INT32_MAX;
    }
  }
}

// Binomial by inversion, 0 < p <= 1/2, n p < 10.
MRBM_HD int32_t binomial_inversion(PhiloxStream& rng, double n, double p) {
  const double s = p / (1.0 - p);
  const double a = (n + 1.0) * s;
  const double p0 = ::exp(n * ::log1p(-p));  // (1-p)^n >= e^-13.9 here: no underflow
  const double max_k = n < kInversionMaxK ? n : kInversionMaxK;
  for (;;) {
    double u = rng.uniform_double();
    double pk = p0;
    double k = 0.0;
    // P(k) / P(k-1) = (n - k + 1) p / (k (1 - p)) = a / k - s.
    while (u > pk && k <= max_k) {
      u -= pk;
      k += 1.0;
      pk *= a / k - s;
    }
    if (k <= max_k) return static_cast<int32_t>(k);
  }
}

// Binomial by BTRD (Hormann 1993, algorithm BTRD, steps 0-3.4), 0 < p <= 1/2, n p >= 10.
MRBM_HD int32_t binomial_btrd(PhiloxStream& rng, double n, double p) {
  // 0. Setup. Only what steps 1-2 need is kept live across the draws; the constants of step 3
  //    are recomputed after them (a sqrt and a few flops per round that passes step 1), which keeps
  //    the register footprint of the sampler (and of every kernel that inlines it) lower.
  const double b = 1.15 + 2.53 * ::sqrt(n * p * (1.0 - p));
  const double a = -0.0873 + 0.0248 * b + 0.01 * p;
  const double c = n * p + 0.5;
  const double vr = 0.92 - 4.2 / b;
  for (;;) {
    // 1. The central box (|u| <= 0.43, v <= vr), where the hat lies under the pmf: accept at once.
    double v = rng.uniform_double();
    double u;
    if (v <= 0.86 * vr) {
      u = v / vr - 0.43;
      return static_cast<int32_t>(::floor((2.0 * a / (0.5 - ::fabs(u)) + b) * u + c));
    }
    // 2. The rest of the (u, v) rectangle: v >= vr with a fresh u, or the two side strips
    //    0.43 < |u| < 0.5, v < vr (u recycled from v, a fresh v). Either way one fresh uniform.
    const double w = rng.uniform_double();
    if (v >= vr) {
      u = w - 0.5;
    } else {
      u = v / vr - 0.93;
      u = ::copysign(0.5, u) - u;
      v = w * vr;
    }
    // 3.0 The candidate k and the hat value; us = 0 gives k = +inf, rejected by the range check.
    const double us = 0.5 - ::fabs(u);
    const double k = ::floor((2.0 * a / us + b) * u + c);
    if (k < 0.0 || k > n) continue;
    const double q = 1.0 - p;
    const double npq = n * p * q;
    const double alpha = (2.83 + 5.1 / b) * ::sqrt(npq);
    const double m = ::floor((n + 1.0) * p);  // the mode
    const double r = p / q;
    v = v * alpha / (a / (us * us) + b);
    const double km = ::fabs(k - m);
    if (km <= 15.0) {
      // 3.1 Near the mode: f(k)/f(m) by the recursion f(i)/f(i-1) = nr/i - r (at most 15 steps).
      const double nr = (n + 1.0) * r;
      double f = 1.0;
      if (m < k) {
        for (double i = m + 1.0; i <= k; i += 1.0) f *= nr / i - r;
      } else {
        for (double i = k + 1.0; i <= m; i += 1.0) v *= nr / i - r;
      }
      if (v <= f) return static_cast<int32_t>(k);
      continue;
    }
    // 3.2 Squeeze: bounds of log(f(k)/f(m)) from the normal approximation.
    v = ::log(v);
    const double rho = (km / npq) * (((km / 3.0 + 0.625) * km + 1.0 / 6.0) / npq + 0.5);
    const double t = -km * km / (2.0 * npq);
    if (v < t - rho) return static_cast<int32_t>(k);
    if (v > t + rho) continue;
    // 3.3 - 3.4 Final acceptance with log(f(k)/f(m)) from Stirling's formula.
    const double nm = n - m + 1.0;
    const double h = (m + 0.5) * ::log((m + 1.0) / (r * nm)) + stirling_correction(m) +
                     stirling_correction(n - m);
    const double nk = n - k + 1.0;
    if (v <= h + (n + 1.0) * ::log(nm / nk) + (k + 0.5) * ::log(nk * r / (k + 1.0)) -
                 stirling_correction(k) - stirling_correction(n - k)) {
      return static_cast<int32_t>(k);
    }
  }
}

}  // namespace detail

// Bernoulli(p): 1 with probability p (within 2^-32), else 0. One random word.
MRBM_HD int32_t sample_bernoulli(PhiloxStream& rng, double p) {
  // u < p 2^32 is false for NaN and for p <= 0, true for every u when p >= 1.
  return static_cast<double>(rng.next_u32()) < p * 4294967296.0 ? 1 : 0;
}

// Poisson(lambda), exact for 0 <= lambda < 2^31 (edge cases in the header comment).
MRBM_HD int32_t sample_poisson(PhiloxStream& rng, double lambda) {
  if (!(lambda > 0.0)) return 0;                 // lambda <= 0 or NaN
  if (!(lambda < 2147483648.0)) return INT32_MAX;  // the count would not fit in int32
  if (lambda < detail::kInversionLimit) return detail::poisson_inversion(rng, lambda);
  return detail::poisson_ptrs(rng, lambda);
}

// Binomial(n, p), exact for every n >= 0 (edge cases in the header comment).
MRBM_HD int32_t sample_binomial(PhiloxStream& rng, int32_t n, double p) {
  if (n <= 0 || !(p > 0.0)) return 0;  // also p NaN
  if (p >= 1.0) return n;
  const double nd = static_cast<double>(n);
  const bool flip = p > 0.5;
  const double pp = flip ? 1.0 - p : p;
  const int32_t k = nd * pp < detail::kInversionLimit ? detail::binomial_inversion(rng, nd, pp)
                                                      : detail::binomial_btrd(rng, nd, pp);
  return flip ? n - k : k;
}

}  // namespace mrbm::kernels
