// The host polynomials of kernels/elementary.h against long double libm, over their whole domains
// and at the edges, and the vectorized closed-form loop of kernels/multinary_cpu.cpp against the
// per-element formula it must reproduce.
//
// Error model: each polynomial's truncation is below 2e-16 relative (see the header) and Horner's
// rounding adds a few units of 2^-53; the bound 1e-15 (about 9 ulp) leaves room for that and fails
// on any wrong coefficient or range reduction (those give 1e-6 or worse).
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/elementary.h"
#include "kernels/multinary.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

using namespace mrbm::kernels;

namespace {

double rel_err(double got, long double ref) {
  if (ref == 0.0L) return got == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return static_cast<double>(std::fabs((static_cast<long double>(got) - ref) / ref));
}

// Uniform in [lo, hi] plus log-uniform magnitudes, so both the bulk and the tiny values are hit.
std::vector<double> samples(double lo, double hi, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> uni(lo, hi), expo(-300.0, 0.0);
  std::vector<double> v;
  for (int i = 0; i < 200000; ++i) v.push_back(uni(gen));
  for (int i = 0; i < 20000; ++i) {
    const double m = std::pow(10.0, expo(gen));
    if (m >= lo && m <= hi) v.push_back(m);
    if (-m >= lo && -m <= hi) v.push_back(-m);
  }
  return v;
}

}  // namespace

TEST_CASE("exp_nonpositive is e^a to 1e-15 on [-708, 0] and 0 beyond", "[elementary]") {
  double worst = 0.0;
  for (double a : samples(-708.0, 0.0, 1))
    worst = std::max(worst, rel_err(exp_nonpositive(a), std::exp(static_cast<long double>(a))));
  for (double a :
       {0.0, -0.0, -1e-300, -0.34657359027997264, -0.3465735902799727, -1.0, -707.9999, -708.0}) {
    worst = std::max(worst, rel_err(exp_nonpositive(a), std::exp(static_cast<long double>(a))));
  }
  INFO("max relative error " << worst);
  CHECK(worst <= 1e-15);
  CHECK(exp_nonpositive(0.0) == 1.0);
  CHECK(exp_nonpositive(-708.5) == 0.0);
  CHECK(exp_nonpositive(-1e30) == 0.0);
  CHECK(exp_nonpositive(-std::numeric_limits<double>::infinity()) == 0.0);
}

TEST_CASE("log1p_unit is log(1 + u) to 1e-15 on [0, 1], tiny u included", "[elementary]") {
  double worst = 0.0;
  for (double u : samples(0.0, 1.0, 2))
    worst = std::max(worst, rel_err(log1p_unit(u), std::log1p(static_cast<long double>(u))));
  for (double u : {1.0, 0.5, 1e-17, 1e-300, 3.3e-308}) {
    worst = std::max(worst, rel_err(log1p_unit(u), std::log1p(static_cast<long double>(u))));
  }
  INFO("max relative error " << worst);
  CHECK(worst <= 1e-15);
  CHECK(log1p_unit(0.0) == 0.0);
}

TEST_CASE("log_unit_interval is log(u) on [2^-53, 1] and cos_two_pi is cos(2 pi u) on [0, 1]",
          "[elementary]") {
  double worst_log = 0.0, worst_cos = 0.0;
  for (double u : samples(0x1p-53, 1.0, 3)) {
    if (u == 1.0) continue;  // log(1) = 0: checked exactly below
    worst_log =
        std::max(worst_log, rel_err(log_unit_interval(u), std::log(static_cast<long double>(u))));
  }
  for (double u : {0x1p-53, 0.5, 0.7071067811865476, 0.7071067811865475, 1.0 - 0x1p-53}) {
    worst_log =
        std::max(worst_log, rel_err(log_unit_interval(u), std::log(static_cast<long double>(u))));
  }
  CHECK(log_unit_interval(1.0) == 0.0);
  // cos: absolute error (what Box-Muller's r cos(2 pi u) needs). Near u = 1/4 and 3/4 the value is
  // a cancellation of terms up to 2.5, so a few ulp of 2.5, not of the result: bound 2e-15.
  const long double two_pi = 6.283185307179586476925286766559L;
  for (double u : samples(0.0, 1.0, 4)) {
    const long double ref = std::cos(two_pi * static_cast<long double>(u));
    worst_cos = std::max(
        worst_cos, static_cast<double>(std::fabs(static_cast<long double>(cos_two_pi(u)) - ref)));
  }
  CHECK(cos_two_pi(0.0) == 1.0);
  CHECK(cos_two_pi(1.0) == 1.0);
  CHECK(cos_two_pi(0.5) == -1.0);
  CHECK(std::fabs(cos_two_pi(0.25)) <= 1e-16);
  INFO("max error: log " << worst_log << " relative, cos " << worst_cos << " absolute");
  CHECK(worst_log <= 1e-15);
  CHECK(worst_cos <= 2e-15);
}

// kernels/multinary_cpu.cpp evaluates binary and closed-form units in vectorized chunks; every
// output must be what the per-element formula multinary_element() gives, for every output set,
// bias layout, row length around the chunk size, and non-finite inputs.
TEST_CASE("vectorized closed-form pass equals the per-element formula", "[multinary]") {
  const auto units = {
      mrbm::test::make_unit_case("binary", UnitKind::kBinary, 1, 1.0, 1.0),
      mrbm::test::make_unit_case("closed", UnitKind::kClosedForm, 255, 255.0 / 4, 1.0)};
  for (const auto& uc : units) {
    for (int64_t cols : {1, 7, 255, 256, 257, 1000}) {
      for (int64_t inner : {0, 1, 5}) {  // 0: no bias
        if (inner > 1 && cols % inner != 0) continue;
        for (Sampler sampler : {Sampler::kNone, Sampler::kMean, Sampler::kGaussian}) {
          for (int outputs = 0; outputs < 4; ++outputs) {  // bit 0: var, bit 1: row_phi
            INFO(uc.name << " cols=" << cols << " bias_inner=" << inner
                         << " sampler=" << static_cast<int>(sampler) << " outputs=" << outputs);
            const int64_t rows = 3;
            auto x = mrbm::test::random_floats(rows * cols, uc.x_lo, uc.x_hi, 7 + cols + inner);
            const float inf = std::numeric_limits<float>::infinity();
            x[0] = std::numeric_limits<float>::quiet_NaN();
            if (x.size() > 2) x[2] = inf;
            if (x.size() > 4) x[x.size() - 1] = -inf;
            const auto bias =
                mrbm::test::random_floats(inner > 0 ? cols / inner : 0, -3.0f, 3.0f, 11);
            MultinaryArgs a;
            auto mean = mrbm::test::poisoned(rows * cols), var = mrbm::test::poisoned(rows * cols);
            auto sample = mrbm::test::poisoned(rows * cols);
            std::vector<double> row_phi(rows, std::numeric_limits<double>::quiet_NaN());
            a.mean = mean.data();
            a.var = (outputs & 1) ? var.data() : nullptr;
            a.row_phi = (outputs & 2) ? row_phi.data() : nullptr;
            a.sample = sampler == Sampler::kNone ? nullptr : sample.data();
            a.sampler = sampler;
            a.x = x.data();
            a.bias = inner > 0 ? bias.data() : nullptr;
            a.bias_inner = inner > 0 ? inner : 1;
            a.rows = rows;
            a.cols = cols;
            a.unit = uc.unit;
            a.seed = 42;
            a.offset = 3;
            a.first_element = 1000;
            REQUIRE(multinary_forward_cpu(a) == Status::kOk);

            const UnitConstants k = unit_constants(a.unit);
            MultinaryArgs e = a;  // the same pass, element by element, into fresh buffers
            auto mean_e = mrbm::test::poisoned(rows * cols),
                 var_e = mrbm::test::poisoned(rows * cols);
            auto sample_e = mrbm::test::poisoned(rows * cols);
            e.mean = mean_e.data();
            e.var = a.var ? var_e.data() : nullptr;
            e.sample = a.sample ? sample_e.data() : nullptr;
            for (int64_t r = 0; r < rows; ++r) {
              double phi = 0.0;
              for (int64_t c = 0; c < cols; ++c) phi += multinary_element(e, k, r * cols + c, c);
              if (a.row_phi) {
                // Four interleaved partial sums against one running sum: same terms, other order.
                const double tol = 1e-13 * std::max(1.0, std::fabs(phi));
                if (std::isnan(phi) || std::isinf(phi)) {
                  CHECK(std::isnan(row_phi[r]) == std::isnan(phi));
                  if (!std::isnan(phi)) CHECK(row_phi[r] == phi);
                } else {
                  CHECK(std::fabs(row_phi[r] - phi) <= tol);
                }
              }
            }
            for (int64_t i = 0; i < rows * cols; ++i) {
              INFO("element " << i << " x=" << x[i]);
              REQUIRE(mrbm::test::same_bits(mean[i], mean_e[i]));
              if (a.var) REQUIRE(mrbm::test::same_bits(var[i], var_e[i]));
              if (!a.var) REQUIRE(std::isnan(var[i]));  // not requested: untouched
              if (a.sample) REQUIRE(mrbm::test::same_bits(sample[i], sample_e[i]));
            }
          }
        }
      }
    }
  }
}
