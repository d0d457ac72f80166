// The samplers of the fused pass (kernels/multinary_sample.h): moments within 5 standard errors,
// the exact samplers' histograms against their pmf (chi-square), determinism of the counter-based
// streams, and every sample inside [0, N].
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/multinary.h"
#include "kernels/multinary_reference.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

using namespace mrbm::kernels;
using mrbm::test::all_unit_cases;
using mrbm::test::make_unit_case;
using mrbm::test::UnitCase;

namespace {

constexpr int64_t kDraws = 200000;

// kDraws samples of the unit at one pre-activation x: one row, each element its own stream.
std::vector<float> draw(const UnitSpec& unit, Sampler sampler, float x, uint64_t seed,
                        uint32_t offset = 0, int64_t count = kDraws) {
  std::vector<float> xs(static_cast<size_t>(count), x), samples = mrbm::test::poisoned(count);
  MultinaryArgs a;
  a.sample = samples.data();
  a.sampler = sampler;
  a.x = xs.data();
  a.rows = 1;
  a.cols = count;
  a.unit = unit;
  a.seed = seed;
  a.offset = offset;
  REQUIRE(multinary_forward_cpu(a) == Status::kOk);
  return samples;
}

struct Moments {
  double mean, var, se_mean, se_var;
};

// Sample mean and variance with their standard errors (se of the variance from the 4th moment).
Moments moments(const std::vector<float>& s) {
  const double n = static_cast<double>(s.size());
  double m = 0;
  for (float v : s) m += v;
  m /= n;
  double m2 = 0, m4 = 0;
  for (float v : s) {
    const double d = v - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  return {m, m2, std::sqrt(m2 / n), std::sqrt(std::max(m4 - m2 * m2, 0.0) / n)};
}

// Upper critical value of chi-square with df degrees of freedom at tail probability 1e-6
// (Wilson-Hilferty; z = 4.753): a correct sampler fails with probability ~1e-6 per check.
double chi2_critical(int df) {
  const double z = 4.753, k = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - k + z * std::sqrt(k), 3.0);
}

// Chi-square statistic of integer-valued samples against a pmf over 0..pmf.size()-1; bins with
// expected count < 5 are merged into one.
double chi2_statistic(const std::vector<float>& samples, const std::vector<long double>& pmf,
                      double scale, int* df) {
  std::vector<double> observed(pmf.size(), 0.0);
  for (float s : samples) {
    const long k = std::lround(s * scale);
    REQUIRE(std::fabs(s * scale - k) < 1e-3);  // exact samples are integers (over scale)
    REQUIRE(k >= 0);
    REQUIRE(k < static_cast<long>(pmf.size()));
    observed[static_cast<size_t>(k)] += 1;
  }
  const double n = static_cast<double>(samples.size());
  double stat = 0, merged_obs = 0, merged_exp = 0;
  int bins = 0;
  for (size_t k = 0; k < pmf.size(); ++k) {
    const double expected = n * static_cast<double>(pmf[k]);
    if (expected < 5) {
      merged_obs += observed[k];
      merged_exp += expected;
      continue;
    }
    stat += (observed[k] - expected) * (observed[k] - expected) / expected;
    ++bins;
  }
  if (merged_exp > 0) {
    stat += (merged_obs - merged_exp) * (merged_obs - merged_exp) / merged_exp;
    ++bins;
  }
  *df = bins - 1;
  return stat;
}

long double logistic_ld(long double z) { return 1.0L / (1.0L + std::exp(-z)); }

// Exact pmf of the number of copies on: Poisson-binomial over p_k = sigma(x - theta_k).
std::vector<long double> copies_pmf(const UnitSpec& u, long double x) {
  std::vector<long double> pmf(static_cast<size_t>(u.n) + 1, 0.0L);
  pmf[0] = 1.0L;
  for (int32_t k = 1; k <= u.n; ++k) {
    const long double p = logistic_ld(x - copy_offset(u, k));
    for (int32_t j = k; j >= 1; --j) pmf[j] = pmf[j] * (1 - p) + pmf[j - 1] * p;
    pmf[0] *= (1 - p);
  }
  return pmf;
}

std::vector<long double> binomial_pmf(int n, long double p) {
  std::vector<long double> pmf(static_cast<size_t>(n) + 1);
  for (int k = 0; k <= n; ++k) {
    pmf[k] = std::exp(std::lgamma((long double)n + 1) - std::lgamma((long double)k + 1) -
                      std::lgamma((long double)(n - k) + 1)) *
             std::pow(p, k) * std::pow(1 - p, n - k);
  }
  return pmf;
}

}  // namespace

TEST_CASE("mean sampler returns f exactly", "[multinary][sampling]") {
  for (const auto& uc : all_unit_cases()) {
    const float x = 0.5f * (uc.x_lo + uc.x_hi) + 1.25f;
    const auto s = draw(uc.unit, Sampler::kMean, x, 1, 0, 16);
    const auto ref = unit_values_reference<long double>(uc.unit, x);
    for (float v : s) REQUIRE(std::fabs(v - static_cast<double>(ref.mean)) <= 1e-6 * ref.mean + 1e-30);
  }
}

TEST_CASE("gaussian and exact samplers match the unit's mean and variance", "[multinary][sampling]") {
  for (const auto& uc : all_unit_cases()) {
    // Points away from the clip boundaries for the gaussian sampler (its clipping changes the
    // moments near 0 and N); the exact samplers are also checked in the far tails.
    const double width = uc.x_hi - uc.x_lo;
    for (double frac : {0.35, 0.5, 0.62}) {
      const float x = static_cast<float>(uc.x_lo + frac * width);
      const auto ref = unit_values_reference<long double>(uc.unit, x);
      for (Sampler sampler : {Sampler::kGaussian, Sampler::kExact}) {
        const double f = static_cast<double>(ref.mean), v = static_cast<double>(ref.var);
        const double n = uc.unit.n;
        if (!mrbm::test::supports_sampler(uc.unit, sampler)) continue;
        if (sampler == Sampler::kGaussian && (f - 6 * std::sqrt(v) < 0 || f + 6 * std::sqrt(v) > n))
          continue;
        INFO(uc.name << " x=" << x << " sampler=" << static_cast<int>(sampler) << " f=" << f
                     << " f'=" << v);
        const auto s = draw(uc.unit, sampler, x, 1234);
        for (float h : s) REQUIRE((h >= 0.0f && h <= uc.unit.n));
        const Moments m = moments(s);
        CHECK(std::fabs(m.mean - f) <= 5 * m.se_mean + 1e-12);
        CHECK(std::fabs(m.var - v) <= 5 * m.se_var + 1e-12);
      }
    }
  }
}

TEST_CASE("exact samplers follow their pmf (chi-square, and the test rejects a wrong pmf)",
          "[multinary][sampling]") {
  struct Check {
    UnitCase uc;
    float x;
  };
  std::vector<Check> checks = {
      {make_unit_case("binary", UnitKind::kBinary, 1, 1.0, 1.0), -0.7f},
      {make_unit_case("closed N=2 s=1", UnitKind::kClosedForm, 2, 1.0, 1.0), 0.4f},
      {make_unit_case("closed N=4 s=2 (8 copies, h = m/2)", UnitKind::kClosedForm, 4, 2.0, 1.0), 1.3f},
      {make_unit_case("equal N=16 d=1", UnitKind::kEqualCopies, 16, 1.0, 1.0), 2.3f},
      {make_unit_case("equal N=16 d=0.5", UnitKind::kEqualCopies, 16, 1.0, 0.5), -3.1f},
      {make_unit_case("logit N=16 s=4", UnitKind::kLogitCopies, 16, 4.0, 1.0), 5.0f},
      {make_unit_case("logit N=16 s=4 tail", UnitKind::kLogitCopies, 16, 4.0, 1.0), -12.0f},
  };
  for (const auto& ch : checks) {
    INFO(ch.uc.name << " x=" << ch.x);
    const UnitSpec& u = ch.uc.unit;
    auto pmf_at = [&](long double x) {
      switch (u.kind) {
        case UnitKind::kBinary: return binomial_pmf(1, logistic_ld(x));
        case UnitKind::kClosedForm:
          return binomial_pmf(static_cast<int>(closed_form_copy_count(u)), logistic_ld(x / u.scale));
        default: return copies_pmf(u, x);
      }
    };
    const double scale = u.kind == UnitKind::kClosedForm ? u.scale : 1.0;
    const auto s = draw(u, Sampler::kExact, ch.x, 77);
    int df = 0;
    const double stat = chi2_statistic(s, pmf_at(ch.x), scale, &df);
    REQUIRE(df >= 1);
    CHECK(stat < chi2_critical(df));
    // Power: the same samples against the pmf of a shifted pre-activation must fail.
    int df_wrong = 0;
    const double stat_wrong = chi2_statistic(s, pmf_at(ch.x + 0.15L), scale, &df_wrong);
    CHECK(stat_wrong > chi2_critical(df_wrong));
  }
}

TEST_CASE("samples depend on seed, offset and element only", "[multinary][sampling]") {
  const auto uc = make_unit_case("logit N=255", UnitKind::kLogitCopies, 255, 255.0 / 4, 1.0);
  for (Sampler sampler : {Sampler::kGaussian, Sampler::kExact}) {
    const auto a = draw(uc.unit, sampler, 3.0f, 5, 0, 1000);
    const auto b = draw(uc.unit, sampler, 3.0f, 5, 0, 1000);
    const auto c = draw(uc.unit, sampler, 3.0f, 5, 1, 1000);
    const auto d = draw(uc.unit, sampler, 3.0f, 6, 0, 1000);
    const auto longer = draw(uc.unit, sampler, 3.0f, 5, 0, 3000);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(a != d);
    CHECK(std::equal(a.begin(), a.end(), longer.begin()));  // element i's draw ignores the size
  }
}

TEST_CASE("a pass split into pieces draws what the whole pass draws", "[multinary][sampling]") {
  const auto uc = make_unit_case("closed", UnitKind::kClosedForm, 255, 64.0, 1.0);
  const int64_t rows = 6, cols = 50;
  const auto x = mrbm::test::random_floats(rows * cols, -300, 300, 8);
  for (Sampler sampler : {Sampler::kGaussian, Sampler::kExact}) {
    std::vector<float> whole(rows * cols), pieces = mrbm::test::poisoned(rows * cols);
    MultinaryArgs a;
    a.sample = whole.data();
    a.sampler = sampler;
    a.x = x.data();
    a.rows = rows;
    a.cols = cols;
    a.unit = uc.unit;
    a.seed = 3;
    REQUIRE(multinary_forward_cpu(a) == Status::kOk);
    for (int64_t r0 : {0, 2, 5}) {
      const int64_t r1 = r0 == 0 ? 2 : (r0 == 2 ? 5 : 6);
      MultinaryArgs p = a;
      p.sample = pieces.data() + r0 * cols;
      p.x = x.data() + r0 * cols;
      p.rows = r1 - r0;
      p.first_element = r0 * cols;
      REQUIRE(multinary_forward_cpu(p) == Status::kOk);
    }
    CHECK(pieces == whole);
  }
}
