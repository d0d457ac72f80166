// No denormal outputs from the fused multinary pass (kernels/multinary_math.h, docs/math.md section
// 2): far below the offsets, where f, f' or the gaussian sample would be smaller than FLT_MIN, the
// pass writes exact zeros, through both CPU loops (the vectorized closed-form rows and the
// per-element loop), for every unit kind. The test runs on a thread that does NOT flush denormals
// (checked first), so that what it sees is the formula's doing, not the CPU's FTZ mode; the CUDA
// kernel calls the same MRBM_HD functions.
#include <cfloat>
#include <cmath>
#include <vector>

#include "core/cpu_threads.h"
#include "kernels/multinary.h"
#include "kernels/multinary_reference.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

using namespace mrbm::kernels;
using mrbm::test::all_unit_cases;

namespace {

// The pre-activation at which the reference mean f(x) equals `target` (f increases with x):
// bisection in long double, which holds e^-100 and far below.
float x_where_mean_is(const UnitSpec& u, long double target) {
  long double lo = -1e6L, hi = 0.0L;
  for (int i = 0; i < 200; ++i) {
    const long double mid = 0.5L * (lo + hi);
    (unit_values_reference<long double>(u, mid).mean < target ? lo : hi) = mid;
  }
  return static_cast<float>(lo);
}

bool is_denormal(float v) { return std::fpclassify(v) == FP_SUBNORMAL; }

}  // namespace

TEST_CASE("far below the offsets the pass writes exact zeros, never denormals", "[multinary]") {
  // The thread's own mode: the formula must flush, not the CPU (core/cpu_threads.h restores the
  // caller's mode after every mrbm loop, so a Catch2 thread never keeps FTZ/DAZ).
  REQUIRE_FALSE(mrbm::denormals_flushed());
  const long double kMin = FLT_MIN;
  for (const auto& uc : all_unit_cases()) {
    for (Sampler sampler : {Sampler::kGaussian, Sampler::kMean, Sampler::kExact}) {
      if (!mrbm::test::supports_sampler(uc.unit, sampler)) continue;
      INFO(uc.name << " sampler " << static_cast<int>(sampler));
      // x from where f = 1e-34 (normal) down to f = 1e-47 (below the smallest denormal, 1.4e-45):
      // the whole denormal band of the mean, and of f' (f' < f / s here) with it.
      const float x_hi = x_where_mean_is(uc.unit, 1e-34L);
      const float x_lo = x_where_mean_is(uc.unit, 1e-47L);
      const int64_t n = 4000;
      std::vector<float> x(n);
      for (int64_t i = 0; i < n; ++i)
        x[i] = x_lo + (x_hi - x_lo) * static_cast<float>(i) / static_cast<float>(n - 1);
      std::vector<float> mean = mrbm::test::poisoned(n), var = mrbm::test::poisoned(n),
                         sample = mrbm::test::poisoned(n);
      MultinaryArgs a;
      a.mean = mean.data();
      a.var = var.data();
      a.sample = sample.data();
      a.x = x.data();
      a.rows = 4;
      a.cols = n / 4;
      a.unit = uc.unit;
      a.sampler = sampler;
      a.seed = 7;
      REQUIRE(multinary_forward_cpu(a) == Status::kOk);
      int64_t flushed_mean = 0, flushed_var = 0, normal_mean = 0;
      for (int64_t i = 0; i < n; ++i) {
        const auto ref = unit_values_reference<long double>(uc.unit, static_cast<long double>(x[i]));
        REQUIRE_FALSE(is_denormal(mean[i]));
        REQUIRE_FALSE(is_denormal(var[i]));
        REQUIRE_FALSE(is_denormal(sample[i]));
        // Below FLT_MIN (with a margin for the ~1e-7 relative error of the computed value, docs/
        // math.md section 7): exactly 0. Above it: the usual 1e-6 relative accuracy still holds.
        if (ref.mean < kMin * (1 - 1e-6L)) {
          REQUIRE(mean[i] == 0.0f);
          flushed_mean += ref.mean >= 1.4e-45L;  // would have been a nonzero denormal float
        } else if (ref.mean > kMin * (1 + 1e-6L)) {
          REQUIRE(std::fabs(mean[i] - ref.mean) <= 1e-6L * ref.mean);
          ++normal_mean;
        }
        if (ref.var < kMin * (1 - 1e-6L)) {
          REQUIRE(var[i] == 0.0f);
          flushed_var += ref.var >= 1.4e-45L;
        } else if (ref.var > kMin * (1 + 1e-6L)) {
          REQUIRE(std::fabs(var[i] - ref.var) <= 1e-6L * ref.var);
        }
        // Mean and variance both flushed: the gaussian (and mean) sample is exactly 0 too.
        if (sampler != Sampler::kExact && mean[i] == 0.0f && var[i] == 0.0f)
          REQUIRE(sample[i] == 0.0f);
      }
      // The band was really crossed: many outputs would have been denormal, some are normal.
      CHECK(flushed_mean > n / 4);
      CHECK(flushed_var > n / 8);
      CHECK(normal_mean > 0);
    }
  }
}

TEST_CASE("the gaussian draw is flushed where f + sqrt(f') xi cancels below FLT_MIN",
          "[multinary]") {
  REQUIRE_FALSE(mrbm::denormals_flushed());
  // mean = 2 FLT_MIN, sqrt(var) xi = -1.5 FLT_MIN: the IEEE sum is 0.5 FLT_MIN, a denormal.
  const float m = 2 * FLT_MIN;
  const float sd = std::sqrt(FLT_MIN);  // var = FLT_MIN (normal), sqrt(var) = 2^-63
  const float xi = -1.5f * FLT_MIN / sd;
  REQUIRE(is_denormal(m + sd * xi));  // without the flush the draw would be denormal
  CHECK(gaussian_sample(m, FLT_MIN, 255.0f, xi) == 0.0f);
  // Above FLT_MIN the draw is untouched.
  CHECK(gaussian_sample(4 * FLT_MIN, FLT_MIN, 255.0f, xi) == 4 * FLT_MIN + sd * xi);
}
