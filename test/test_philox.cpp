// Tests of kernels/philox.h: Philox4x32-10 against Random123's known-answer vectors, the counter
// layout of PhiloxStream, the uniform and normal conversions (range, moments, histogram), and the
// independence of streams across seeds, elements and offsets.
//
// Error model of the statistical checks: a sample mean of N draws has standard error
// sqrt(var / N), a sample variance sqrt((mu4 - var^2) / N); each check allows 5 standard errors
// (false failure probability 6e-7 per check for a correct generator). Histograms use Pearson's
// chi-square with a p-value threshold of 1e-6. Seeds are fixed, so the tests are deterministic.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/philox.h"

namespace {

using mrbm::kernels::Philox2x32Key;
using mrbm::kernels::Philox4x32;
using mrbm::kernels::PhiloxStream;

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

// Pearson chi-square p-value of observed counts against expected probabilities (summing to 1).
double chi_square_p_value(const std::vector<int64_t>& observed, const std::vector<long double>& prob,
                          int64_t draws) {
  long double chi2 = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const long double e = prob[i] * draws;
    chi2 += (observed[i] - e) * (observed[i] - e) / e;
  }
  return static_cast<double>(gamma_q((observed.size() - 1) / 2.0L, chi2 / 2));
}

constexpr double kPValueThreshold = 1e-6;

}  // namespace

TEST_CASE("philox4x32_10 matches Random123's known-answer vectors", "[random]") {
  // kat_vectors of Random123 1.09, lines "philox4x32 10 <ctr[4]> <key[2]> <expected[4]>".
  struct Kat {
    Philox4x32 ctr;
    Philox2x32Key key;
    Philox4x32 expected;
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 out = mrbm::kernels::philox4x32_10(k.ctr, k.key);
    CHECK(out.x == k.expected.x);
    CHECK(out.y == k.expected.y);
    CHECK(out.z == k.expected.z);
    CHECK(out.w == k.expected.w);
  }
}

TEST_CASE("PhiloxStream follows the documented counter layout", "[random]") {
  // Seed and element above 2^32 so that both halves of each are exercised.
  const uint64_t seed = 0x0123456789abcdefull;
  const uint64_t element = 0x00000005deadbeefull;
  const uint32_t offset = 77;
  PhiloxStream s(seed, element, offset);
  const Philox2x32Key key{0x89abcdefu, 0x01234567u};
  for (uint32_t block = 0; block < 3; ++block) {
    const Philox4x32 b =
        mrbm::kernels::philox4x32_10(Philox4x32{0xdeadbeefu, 0x5u, block, offset}, key);
    CHECK(s.next_u32() == b.x);
    CHECK(s.next_u32() == b.y);
    CHECK(s.next_u32() == b.z);
    CHECK(s.next_u32() == b.w);
  }
  // uniform_double takes the next two words, normal the next four.
  PhiloxStream t(seed, element, offset);
  const Philox4x32 b0 = mrbm::kernels::philox4x32_10(Philox4x32{0xdeadbeefu, 0x5u, 0, offset}, key);
  CHECK(t.uniform() == mrbm::kernels::uniform_float_from_u32(b0.x));
  CHECK(t.uniform_double() == mrbm::kernels::uniform_double_from_u32(b0.y, b0.z));
  CHECK(t.next_u32() == b0.w);
}

TEST_CASE("uniform conversions stay within 0 exclusive and 1 inclusive at the extreme words", "[random]") {
  using mrbm::kernels::uniform_double_from_u32;
  using mrbm::kernels::uniform_float_from_u32;
  CHECK(uniform_float_from_u32(0u) == std::ldexp(1.0f, -24));
  CHECK(uniform_float_from_u32(0xffu) == std::ldexp(1.0f, -24));  // low 8 bits are dropped
  CHECK(uniform_float_from_u32(0x100u) == std::ldexp(1.0f, -23));
  CHECK(uniform_float_from_u32(0xffffffffu) == 1.0f);
  CHECK(uniform_double_from_u32(0u, 0u) == std::ldexp(1.0, -53));
  CHECK(uniform_double_from_u32(0xffffffffu, 0xffffffffu) == 1.0);
  CHECK(uniform_double_from_u32(0u, 0x40u) == std::ldexp(2.0, -53));   // b's lowest kept bit
  CHECK(uniform_double_from_u32(0x20u, 0u) == std::ldexp(1.0, -27) + std::ldexp(1.0, -53));
  // std::log of the smallest values is finite: the conversions are safe for Box-Muller.
  CHECK(std::isfinite(std::log(uniform_float_from_u32(0u))));
  CHECK(std::isfinite(std::log(uniform_double_from_u32(0u, 0u))));
}

TEST_CASE("PhiloxStream uniforms: range, moments and histogram", "[random]") {
  const int64_t n = 1 << 20;
  const int bins = 64;
  std::vector<int64_t> hist_f(bins, 0), hist_d(bins, 0);
  long double sum_f = 0, sum2_f = 0, sum_d = 0, sum2_d = 0;
  float min_f = 2.0f;
  double min_d = 2.0;
  bool in_range = true;
  for (int64_t i = 0; i < n; ++i) {
    // One stream per element, the pattern of the samplers; both draws come from the same stream.
    PhiloxStream s(2024, static_cast<uint64_t>(i), 3);
    const float uf = s.uniform();
    const double ud = s.uniform_double();
    in_range = in_range && uf > 0.0f && uf <= 1.0f && ud > 0.0 && ud <= 1.0;
    min_f = std::min(min_f, uf);
    min_d = std::min(min_d, ud);
    sum_f += uf;
    sum2_f += static_cast<long double>(uf) * uf;
    sum_d += ud;
    sum2_d += static_cast<long double>(ud) * ud;
    // (0, 1] -> bins (lo, hi]: ceil(u * bins) - 1.
    hist_f[std::min(bins - 1, std::max(0, static_cast<int>(std::ceil(uf * bins)) - 1))]++;
    hist_d[std::min(bins - 1, std::max(0, static_cast<int>(std::ceil(ud * bins)) - 1))]++;
  }
  REQUIRE(in_range);
  CHECK(min_f > 0.0f);
  CHECK(min_d > 0.0);
  // Uniform(0, 1): var = 1/12, mu4 = 1/80.
  const double se_mean = std::sqrt(1.0 / 12.0 / n);
  const double se_var = std::sqrt((1.0 / 80.0 - 1.0 / 144.0) / n);
  const double mean_f = static_cast<double>(sum_f / n), mean_d = static_cast<double>(sum_d / n);
  const double var_f = static_cast<double>(sum2_f / n) - mean_f * mean_f;
  const double var_d = static_cast<double>(sum2_d / n) - mean_d * mean_d;
  CHECK(std::fabs(mean_f - 0.5) < 5 * se_mean);
  CHECK(std::fabs(mean_d - 0.5) < 5 * se_mean);
  CHECK(std::fabs(var_f - 1.0 / 12.0) < 5 * se_var);
  CHECK(std::fabs(var_d - 1.0 / 12.0) < 5 * se_var);
  const std::vector<long double> prob(bins, 1.0L / bins);
  CHECK(chi_square_p_value(hist_f, prob, n) > kPValueThreshold);
  CHECK(chi_square_p_value(hist_d, prob, n) > kPValueThreshold);
  // The test has power: a 3% linear tilt of the bin masses (1 - 0.03 at 0 to 1 + 0.03 at 1, a
  // noncentrality of n 0.06^2 / 12 = 315 against a critical value near 125 for 63 dof) is rejected.
  std::vector<long double> tilted(bins);
  for (int b = 0; b < bins; ++b) tilted[b] = (1.0L + 0.06L * ((b + 0.5L) / bins - 0.5L)) / bins;
  CHECK(chi_square_p_value(hist_f, tilted, n) < kPValueThreshold);
}

TEST_CASE("PhiloxStream normals: moments and histogram against the normal cdf", "[random]") {
  const int64_t n = 1 << 20;
  // Bins of width 0.25 over [-4, 4] plus the two tails.
  const int inner = 32;
  std::vector<int64_t> hist(inner + 2, 0);
  long double sum = 0, sum2 = 0;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    PhiloxStream s(99, static_cast<uint64_t>(i), 0);
    const float z = s.normal();
    finite = finite && std::isfinite(z);
    sum += z;
    sum2 += static_cast<long double>(z) * z;
    const int b = z < -4.0f ? 0 : z >= 4.0f ? inner + 1 : 1 + std::min(inner - 1, static_cast<int>((z + 4.0f) * 4.0f));
    hist[b]++;
  }
  REQUIRE(finite);
  // N(0, 1): var = 1, mu4 = 3.
  const double mean = static_cast<double>(sum / n);
  const double var = static_cast<double>(sum2 / n) - mean * mean;
  CHECK(std::fabs(mean) < 5 * std::sqrt(1.0 / n));
  CHECK(std::fabs(var - 1.0) < 5 * std::sqrt(2.0 / n));
  auto cdf = [](long double x) { return 0.5L * std::erfc(-x / std::sqrt(2.0L)); };
  std::vector<long double> prob(inner + 2);
  prob[0] = cdf(-4);
  prob[inner + 1] = 1 - cdf(4);
  for (int b = 0; b < inner; ++b) prob[b + 1] = cdf(-4 + 0.25L * (b + 1)) - cdf(-4 + 0.25L * b);
  // Tail bins have expectation n * 3.2e-5 = 33: enough for the chi-square approximation.
  CHECK(chi_square_p_value(hist, prob, n) > kPValueThreshold);
  // Power: the same histogram against N(0, 1.02^2) is rejected.
  std::vector<long double> wide(inner + 2);
  auto cdf_wide = [&](long double x) { return cdf(x / 1.02L); };
  wide[0] = cdf_wide(-4);
  wide[inner + 1] = 1 - cdf_wide(4);
  for (int b = 0; b < inner; ++b) wide[b + 1] = cdf_wide(-4 + 0.25L * (b + 1)) - cdf_wide(-4 + 0.25L * b);
  CHECK(chi_square_p_value(hist, wide, n) < kPValueThreshold);
}

TEST_CASE("PhiloxStream is a pure function of (seed, element, offset, draw number)", "[random]") {
  auto words = [](uint64_t seed, uint64_t element, uint32_t offset) {
    PhiloxStream s(seed, element, offset);
    std::vector<uint32_t> w(1000);
    for (auto& x : w) x = s.next_u32();
    return w;
  };
  const auto base = words(1, 42, 7);
  CHECK(base == words(1, 42, 7));  // same inputs, same stream
  // Any changed input gives an unrelated stream: equal words at the same position occur with
  // probability 2^-32 each, so more than one coincidence in 1000 words would mean a defect.
  auto coincidences = [&](const std::vector<uint32_t>& other) {
    int c = 0;
    for (size_t i = 0; i < base.size(); ++i) c += base[i] == other[i];
    return c;
  };
  CHECK(coincidences(words(2, 42, 7)) <= 1);                    // seed
  CHECK(coincidences(words(1ull | (1ull << 32), 42, 7)) <= 1);  // seed, high word only
  CHECK(coincidences(words(1, 43, 7)) <= 1);                    // element
  CHECK(coincidences(words(1, 42 | (1ull << 32), 7)) <= 1);     // element, high word only
  CHECK(coincidences(words(1, 42, 8)) <= 1);                    // offset
  // The stream of element e does not reappear shifted in element e + 1 (blocks are not shared).
  const auto next = words(1, 43, 7);
  int shifted = 0;
  for (size_t i = 4; i < base.size(); ++i) shifted += base[i] == next[i - 4];
  CHECK(shifted <= 1);
}

TEST_CASE("PhiloxStream: neighbouring elements and offsets are uncorrelated", "[random]") {
  // Correlation of uniforms of element i and i + 1, and of offset o and o + 1 at the same element.
  // Under independence the sample correlation has standard error 1/sqrt(n).
  const int64_t n = 1 << 18;
  long double sxy_e = 0, sxy_o = 0;
  PhiloxStream prev(5, 0, 0);
  double u_prev = prev.uniform_double();
  for (int64_t i = 1; i <= n; ++i) {
    PhiloxStream s(5, static_cast<uint64_t>(i), 0);
    PhiloxStream t(5, static_cast<uint64_t>(i), 1);
    const double u = s.uniform_double();
    const double v = t.uniform_double();
    sxy_e += (u - 0.5) * (u_prev - 0.5);
    sxy_o += (u - 0.5) * (v - 0.5);
    u_prev = u;
  }
  const double var = 1.0 / 12.0;
  const double corr_e = static_cast<double>(sxy_e / n) / var;
  const double corr_o = static_cast<double>(sxy_o / n) / var;
  CHECK(std::fabs(corr_e) < 5 / std::sqrt(static_cast<double>(n)));
  CHECK(std::fabs(corr_o) < 5 / std::sqrt(static_cast<double>(n)));
}
