// Tests of kernels/random_distributions.h: Bernoulli, Poisson and binomial variates drawn from
// PhiloxStream, against their exact pmfs (computed here in long double with lgammal).
//
// Error model. Goodness of fit: Pearson's chi-square over bins of expected count >= 20 (adjacent
// values merged, the tails folded into the end bins), rejected when the p-value is below 1e-6: for a
// correct sampler each such check fails with probability 1e-6 (the seeds are fixed, so the outcome is
// deterministic; the threshold is still a real test). Each chi-square check is paired with the same
// histogram against a deliberately wrong pmf (the probability or the mean shifted by 2%), which must
// be rejected at the same threshold: the draw counts are chosen so that the shift's noncentrality is
// at least ~64 (about 8 standard errors of the mean), so a sampler with a 2% error would fail.
// Moments: the sample mean has standard error sqrt(var / N), the sample variance
// sqrt((mu4 - var^2) / N); each check allows 5 standard errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/random_distributions.h"

namespace {

using mrbm::kernels::PhiloxStream;

constexpr double kPValueThreshold = 1e-6;

// Regularized upper incomplete gamma Q(a, x) (series for x < a + 1, continued fraction otherwise;
// Numerical Recipes' gser/gcf), in long double: the chi-square p-value is Q(dof / 2, chi2 / 2).
long double gamma_q(long double a, long double x) {
  if (x <= 0) return 1.0L;
  const long double gln = std::lgamma(a);
  if (x < a + 1) {
    long double ap = a, sum = 1 / a, del = sum;
    for (int n = 0; n < 100000; ++n) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * 1e-18L) break;
    }
    return 1 - sum * std::exp(-x + a * std::log(x) - gln);
  }
  long double b = x + 1 - a, c = 1 / 1e-300L, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const long double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < 1e-300L) d = 1e-300L;
    c = b + an / c;
    if (std::fabs(c) < 1e-300L) c = 1e-300L;
    d = 1 / d;
    const long double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-18L) break;
  }
  return std::exp(-x + a * std::log(x) - gln) * h;
}

// Chi-square p-value of a histogram (hist[k] = draws equal to k, the last entry holding every draw
// >= its index) against pmf (same length; the last entry is the tail mass). Values are merged left
// to right into bins of expected count >= 20; a short remainder joins the last bin.
double chi_square_p_value(const std::vector<int64_t>& hist, const std::vector<long double>& pmf,
                          int64_t draws) {
  std::vector<long double> expected;
  std::vector<long double> observed;
  long double e = 0, o = 0;
  for (size_t k = 0; k < pmf.size(); ++k) {
    e += pmf[k] * draws;
    o += hist[k];
    if (e >= 20) {
      expected.push_back(e);
      observed.push_back(o);
      e = o = 0;
    }
  }
  if (expected.empty()) return 0.0;  // cannot happen with the draw counts used here
  expected.back() += e;
  observed.back() += o;
  if (expected.size() < 2) return 1.0;  // a single bin carries no information
  long double chi2 = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    chi2 += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  }
  return static_cast<double>(gamma_q((expected.size() - 1) / 2.0L, chi2 / 2));
}

std::vector<long double> binomial_pmf(int32_t n, long double p) {
  std::vector<long double> pmf(static_cast<size_t>(n) + 1);
  for (int32_t k = 0; k <= n; ++k) {
    pmf[k] = std::exp(std::lgamma(n + 1.0L) - std::lgamma(k + 1.0L) - std::lgamma(n - k + 1.0L) +
                      k * std::log(p) + (n - k) * std::log1p(-p));
  }
  return pmf;
}

// Poisson pmf on 0..kmax-1, plus the tail mass P(K >= kmax) as the last entry.
std::vector<long double> poisson_pmf(long double lambda, int32_t kmax) {
  std::vector<long double> pmf(static_cast<size_t>(kmax) + 1);
  long double total = 0;
  for (int32_t k = 0; k < kmax; ++k) {
    pmf[k] = std::exp(-lambda + k * std::log(lambda) - std::lgamma(k + 1.0L));
    total += pmf[k];
  }
  pmf[kmax] = std::max(0.0L, 1 - total);
  return pmf;
}

struct Sampled {
  std::vector<int64_t> hist;  // hist[k]: draws equal to k; the last entry: draws >= its index
  long double mean = 0;
  long double var = 0;
  bool in_range = true;  // every draw was in [0, max_value] (binomial) or >= 0 (Poisson)
};

// Draws `draws` values, draw i from its own stream (seed, element i, offset) as the samplers do,
// or all from one stream (sequential = true).
template <typename Draw>
Sampled sample_histogram(Draw draw, int64_t draws, int32_t hist_max, int64_t max_value, uint64_t seed,
                         uint32_t offset, bool sequential = false) {
  Sampled r;
  r.hist.assign(static_cast<size_t>(hist_max) + 1, 0);
  std::vector<int32_t> values(static_cast<size_t>(draws));
  PhiloxStream shared(seed, 0, offset);
  long double sum = 0;
  for (int64_t i = 0; i < draws; ++i) {
    int32_t k;
    if (sequential) {
      k = draw(shared);
    } else {
      PhiloxStream s(seed, static_cast<uint64_t>(i), offset);
      k = draw(s);
    }
    r.in_range = r.in_range && k >= 0 && k <= max_value;
    values[i] = k;
    sum += k;
    r.hist[std::min<int64_t>(std::max(k, 0), hist_max)]++;
  }
  r.mean = sum / draws;
  long double ss = 0;
  for (int32_t k : values) ss += (k - r.mean) * (k - r.mean);
  r.var = ss / draws;
  return r;
}

// Moments within 5 standard errors (see the error model above).
void check_moments(const Sampled& s, int64_t draws, double mean, double var, double mu4) {
  const double se_mean = std::sqrt(var / draws);
  const double se_var = std::sqrt((mu4 - var * var) / draws);
  CHECK(std::fabs(static_cast<double>(s.mean) - mean) < 5 * se_mean);
  CHECK(std::fabs(static_cast<double>(s.var) - var) < 5 * se_var);
}

void check_binomial(int32_t n, double p, int64_t draws, uint32_t offset, bool sequential = false) {
  INFO("Binomial(n = " << n << ", p = " << p << "), " << draws << " draws"
                       << (sequential ? ", one stream" : ""));
  const Sampled s = sample_histogram(
      [&](PhiloxStream& rng) { return mrbm::kernels::sample_binomial(rng, n, p); }, draws, n, n,
      0x5eed0001ull, offset, sequential);
  REQUIRE(s.in_range);
  const double q = 1.0 - p;
  check_moments(s, draws, n * p, n * p * q, n * p * q * (1.0 + 3.0 * (n - 2.0) * p * q));
  CHECK(chi_square_p_value(s.hist, binomial_pmf(n, p), draws) > kPValueThreshold);
  // Power: p shifted by 2% (towards 1/2 when p > 1/2, so that the shifted p stays below 1).
  const long double shifted = p <= 0.5 ? p * 1.02L : 1 - (1 - p) * 1.02L;
  CHECK(chi_square_p_value(s.hist, binomial_pmf(n, shifted), draws) < kPValueThreshold);
}

void check_poisson(double lambda, int64_t draws, uint32_t offset, bool sequential = false) {
  INFO("Poisson(lambda = " << lambda << "), " << draws << " draws" << (sequential ? ", one stream" : ""));
  const int32_t kmax = static_cast<int32_t>(lambda + 30.0 * std::sqrt(lambda) + 50.0);
  const Sampled s = sample_histogram(
      [&](PhiloxStream& rng) { return mrbm::kernels::sample_poisson(rng, lambda); }, draws, kmax,
      std::numeric_limits<int32_t>::max(), 0x5eed0002ull, offset, sequential);
  REQUIRE(s.in_range);
  check_moments(s, draws, lambda, lambda, lambda * (1.0 + 3.0 * lambda));
  CHECK(chi_square_p_value(s.hist, poisson_pmf(lambda, kmax), draws) > kPValueThreshold);
  CHECK(chi_square_p_value(s.hist, poisson_pmf(lambda * 1.02L, kmax), draws) < kPValueThreshold);
}

}  // namespace

TEST_CASE("Stirling correction and log-factorial match lgamma", "[random]") {
  // fc(k) = log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2]; double evaluation of terms up
  // to ~1e5 in size, so the absolute error bound is a few ulp of the largest term.
  for (int k = 0; k <= 20000; k += (k < 100 ? 1 : 97)) {
    const long double kk = k;
    const long double ref_lf = std::lgamma(kk + 1);
    const long double ref_fc =
        ref_lf - ((kk + 0.5L) * std::log(kk + 1) - (kk + 1) + 0.5L * std::log(2 * 3.14159265358979323846264L));
    INFO("k = " << k);
    CHECK(std::fabs(mrbm::kernels::detail::stirling_correction(k) - static_cast<double>(ref_fc)) < 1e-13);
    CHECK(std::fabs(mrbm::kernels::detail::log_factorial(k) - static_cast<double>(ref_lf)) <
          1e-15 * std::max(1.0L, ref_lf) * 8);
  }
}

TEST_CASE("sample_bernoulli: edge cases and frequency", "[random]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const int64_t n = 1 << 20;
  int64_t ones_03 = 0;
  bool edges_ok = true;
  for (int64_t i = 0; i < n; ++i) {
    PhiloxStream s(11, static_cast<uint64_t>(i), 0);
    ones_03 += mrbm::kernels::sample_bernoulli(s, 0.3);
    if (i < 100000) {
      edges_ok = edges_ok && mrbm::kernels::sample_bernoulli(s, 0.0) == 0 &&
                 mrbm::kernels::sample_bernoulli(s, -1.0) == 0 &&
                 mrbm::kernels::sample_bernoulli(s, nan) == 0 &&
                 mrbm::kernels::sample_bernoulli(s, 1.0) == 1 &&
                 mrbm::kernels::sample_bernoulli(s, 2.0) == 1;
    }
  }
  CHECK(edges_ok);
  // Binomial-count error model: sd of the count sqrt(n p (1-p)).
  const double sd = std::sqrt(n * 0.3 * 0.7);
  CHECK(std::fabs(ones_03 - n * 0.3) < 5 * sd);
  // Power: the same count is far from p = 0.306 (a 2% shift is 13 sd at this n).
  CHECK(std::fabs(ones_03 - n * 0.306) > 5 * sd);
}

TEST_CASE("sample_binomial: edge cases", "[random]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < 1000; ++i) {
    PhiloxStream s(12, static_cast<uint64_t>(i), 0);
    using mrbm::kernels::sample_binomial;
    CHECK(sample_binomial(s, 0, 0.5) == 0);
    CHECK(sample_binomial(s, -5, 0.5) == 0);
    CHECK(sample_binomial(s, 100, 0.0) == 0);
    CHECK(sample_binomial(s, 100, -0.1) == 0);
    CHECK(sample_binomial(s, 100, -inf) == 0);
    CHECK(sample_binomial(s, 100, nan) == 0);
    CHECK(sample_binomial(s, 100, 1.0) == 100);
    CHECK(sample_binomial(s, 100, 1.5) == 100);
    CHECK(sample_binomial(s, 100, inf) == 100);
    CHECK(sample_binomial(s, 70000, 1.0) == 70000);
    const int32_t big = std::numeric_limits<int32_t>::max();
    const int32_t k = sample_binomial(s, big, 0.5);
    // Within 10 sd of n/2 (sd = sqrt(n)/2 = 23170).
    CHECK(std::fabs(k - big * 0.5) < 10 * 23170.5);
    const int32_t k2 = sample_binomial(s, big, 1e-9);  // n p = 2.1: inversion at huge n
    CHECK(k2 >= 0);
    CHECK(k2 < 40);
  }
}

TEST_CASE("sample_poisson: edge cases", "[random]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const int32_t imax = std::numeric_limits<int32_t>::max();
  for (int64_t i = 0; i < 1000; ++i) {
    PhiloxStream s(13, static_cast<uint64_t>(i), 0);
    using mrbm::kernels::sample_poisson;
    CHECK(sample_poisson(s, 0.0) == 0);
    CHECK(sample_poisson(s, -1.0) == 0);
    CHECK(sample_poisson(s, nan) == 0);
    CHECK(sample_poisson(s, inf) == imax);
    CHECK(sample_poisson(s, 1e12) == imax);
    CHECK(sample_poisson(s, 4294967296.0) == imax);
    const int32_t k = sample_poisson(s, 1e9);  // within 10 sd (sd = 31623)
    CHECK(std::fabs(k - 1e9) < 10 * 31623.0);
    CHECK(sample_poisson(s, 1e-300) == 0);  // P(K > 0) = 1e-300
  }
}

TEST_CASE("sample_binomial matches the exact pmf (inversion and BTRD)", "[random]") {
  // Inversion: n min(p, 1-p) < 10.
  check_binomial(1, 0.3, 1000000, 1);
  check_binomial(5, 0.5, 1000000, 2);
  check_binomial(20, 0.05, 1000000, 3);
  check_binomial(30, 0.7, 1000000, 4);  // n (1-p) = 9: inversion with the flip k -> n - k
  // BTRD: n min(p, 1-p) >= 10.
  check_binomial(100, 0.3, 1000000, 5);      // mostly step 3.1 (|k - m| <= 15)
  check_binomial(50, 0.75, 1000000, 6);      // the flip, small n (k > n rejections)
  check_binomial(16256, 0.5, 1000000, 7);    // N s copies at N = 255, s = N/4: steps 3.2 - 3.4
  check_binomial(16256, 0.001, 1000000, 8);  // n p = 16.3
  check_binomial(16256, 0.999, 1000000, 9);  // the same through the flip
  check_binomial(70000, 0.3, 1000000, 10);   // the largest n of the brief
  // One stream for all draws (the windowed sampler draws several values per element).
  check_binomial(100, 0.3, 1000000, 11, true);
  check_binomial(16256, 0.5, 1000000, 12, true);
}

TEST_CASE("sample_poisson matches the exact pmf (inversion and PTRS)", "[random]") {
  // lambda = 0.01 needs 2e7 draws for a 2% shift to be detectable (noncentrality N lambda 0.02^2 = 80).
  check_poisson(0.01, 20000000, 1);
  check_poisson(0.5, 1000000, 2);
  check_poisson(3.0, 1000000, 3);
  check_poisson(9.99, 1000000, 4);  // the last inversion lambda
  check_poisson(10.0, 1000000, 5);  // the first PTRS lambda
  check_poisson(30.0, 1000000, 6);
  check_poisson(1000.0, 1000000, 7);
  check_poisson(30.0, 1000000, 8, true);  // one stream for all draws
}

TEST_CASE("distributions are pure functions of the stream", "[random]") {
  // The same (seed, element, offset) gives the same draws, a different offset different ones.
  int differ = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    PhiloxStream a(77, static_cast<uint64_t>(i), 5), b(77, static_cast<uint64_t>(i), 5),
        c(77, static_cast<uint64_t>(i), 6);
    const int32_t ka = mrbm::kernels::sample_binomial(a, 16256, 0.5);
    const int32_t kb = mrbm::kernels::sample_binomial(b, 16256, 0.5);
    const int32_t kc = mrbm::kernels::sample_binomial(c, 16256, 0.5);
    CHECK(ka == kb);
    CHECK(mrbm::kernels::sample_poisson(a, 30.0) == mrbm::kernels::sample_poisson(b, 30.0));
    differ += ka != kc;
  }
  // Two independent Binomial(16256, 1/2) draws coincide with probability ~ 1/(2 sqrt(pi) 63.7) = 0.44%.
  CHECK(differ > 950);
}
