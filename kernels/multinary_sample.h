// Samplers of one multinary unit (docs/math.md section 6), shared by the CPU reference and the CUDA
// kernel. Each element draws from its own counter-based stream PhiloxStream(seed, element, offset),
// so a sample depends on (seed, offset, element index) only, never on the thread layout, and the
// CPU and the GPU draw the same numbers.
//
//   kMean      h = f(x)
//   kGaussian  h = clip(f + sqrt(f') xi, 0, N),  xi ~ N(0, 1)            (moment matched)
//   kExact     kBinary:      Bernoulli(sigma(x))
//              kClosedForm:  Binomial(N s, sigma(x/s)) / s  (the binomial RBM of N s copies of
//                            weight W/s; needs N s integral, checked by validate_multinary_args)
//              copies:       windowed Poisson-binomial: saturated copies contribute
//                            n_high - Poisson(sum_H sigma(theta_k - x)), window copies a Bernoulli
//                            each, vanishing copies Poisson(sum_L sigma(x - theta_k)); each Poisson
//                            is capped at its group's size. Total-variation error <=
//                            2e^{-2T}/(1-e^{-2d}).
// A NaN pre-activation gives a NaN sample (clip would otherwise hide it).
// No sample is a denormal float: the gaussian draw is flushed to 0 below FLT_MIN (as the means and
// variances are, kernels/multinary_math.h), and the exact draws are counts or m/s with m >= 1
// integral and N s <= 2^31 (so m/s >= 2^-31).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/multinary_math.h"
#include "kernels/philox.h"
#include "kernels/random_distributions.h"
#include "kernels/rounded.h"
#include "kernels/unit_spec.h"

namespace mrbm::kernels {

// N s as the integer copy count of the closed form's binomial interpretation, or -1 when N s is
// not integral (then the exact sampler is unavailable for this unit).
MRBM_HD int64_t closed_form_copy_count(const UnitSpec& u) {
  const double copies = static_cast<double>(u.n) * u.scale;
  const double rounded = ::floor(copies + 0.5);
  return (::fabs(copies - rounded) <= 1e-9 * (copies > 1.0 ? copies : 1.0) && rounded >= 1.0)
             ? static_cast<int64_t>(rounded)
             : -1;
}

MRBM_HD double logistic(double z) { return 1.0 / (1.0 + ::exp(-z)); }

MRBM_HD float sample_exact_copies(const UnitSpec& u, const UnitConstants& c, float x,
                                  PhiloxStream& rng) {
  const CopyWindow w = copy_window(u, c, x);
  int32_t high_off = sample_poisson(rng, w.high_off_mean);
  if (high_off > w.n_high) high_off = w.n_high;
  int32_t count = w.n_high - high_off;
  for (int32_t k = w.n_high + 1; k < w.first_low; ++k) {
    count += sample_bernoulli(rng, logistic(static_cast<double>(x) - copy_offset(u, k)));
  }
  const int32_t n_low = u.n - w.first_low + 1;
  int32_t low_on = sample_poisson(rng, w.low_on_mean);
  if (low_on > n_low) low_on = n_low;
  return static_cast<float>(count + low_on);
}

// The gaussian sampler's draw from a standard normal xi: clip(f + sqrt(f') xi, 0, N) (finite x),
// 0 where it would be below FLT_MIN (flush_denormal, kernels/multinary_math.h: f + sqrt(f') xi can
// cancel into a denormal even when f and f' are normal). The product and the sum are rounded
// separately on both devices: nvcc would contract them into one FMA (--fmad=true, seen in the
// PTX), the CPU build never contracts (-ffp-contract=off), and the two would differ in the last
// bit (issue 12, 6f). sqrtf is correctly rounded on both (nvcc's default -prec-sqrt=true).
MRBM_HD float gaussian_sample(float mean, float var, float n, float xi) {
  const float h = flush_denormal(rounded_add(mean, rounded_mul(::sqrtf(var), xi)));
  return h < 0.0f ? 0.0f : (h > n ? n : h);
}

// One sample of the unit at pre-activation x, given its mean f(x), its variance f'(x) and
// c = unit_constants(u) (the pass's, computed once).
MRBM_HD float sample_unit(const UnitSpec& u, const UnitConstants& c, Sampler sampler, float x,
                          float mean, float var, PhiloxStream& rng) {
  if (x != x) return x;  // NaN in, NaN out
  const float n = static_cast<float>(u.n);
  switch (sampler) {
    case Sampler::kMean:
      return mean;
    case Sampler::kGaussian:
      return gaussian_sample(mean, var, n, rng.normal());
    case Sampler::kExact:
      switch (u.kind) {
        case UnitKind::kBinary:
          return static_cast<float>(sample_bernoulli(rng, logistic(static_cast<double>(x))));
        case UnitKind::kClosedForm: {
          const int64_t copies = closed_form_copy_count(u);
          const double p = logistic(static_cast<double>(x) / u.scale);
          return static_cast<float>(sample_binomial(rng, static_cast<int32_t>(copies), p) /
                                    u.scale);
        }
        case UnitKind::kEqualCopies:
        case UnitKind::kLogitCopies:
          return sample_exact_copies(u, c, x, rng);
      }
      return mean;
    case Sampler::kNone:
      break;
  }
  return mean;
}

}  // namespace mrbm::kernels
