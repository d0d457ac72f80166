// The fused multinary pass on the CPU (kernels/multinary.h): every output against the float64
// (long double) brute-force reference, the bias layouts, the row sums, sizes 0/1/odd/large,
// argument validation, and the samplers' distributions.
#include <cmath>
#include <limits>
#include <map>

#include "kernels/multinary.h"
#include "kernels/multinary_reference.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

using namespace mrbm::kernels;
using mrbm::test::all_unit_cases;
using mrbm::test::make_unit_case;
using mrbm::test::random_floats;

namespace {

// Error model: each float32 output is the float rounding of a value computed to ~1e-7 relative by
// the window-plus-tails method (docs/math.md section 7), so 1e-6 relative to |ref| holds; values
// that underflow towards 0 are compared against an absolute floor of 1e-30 (below float32's
// normal range the relative error of a correctly rounded value is unbounded anyway).
bool close_rel(double got, long double ref, double rel) {
  if (std::isnan(static_cast<double>(ref))) return std::isnan(got);
  const long double err = std::fabs(static_cast<long double>(got) - ref);
  return err <= rel * std::fabs(ref) + 1e-30L;
}

struct Buffers {
  std::vector<float> mean, var, sample;
  std::vector<double> row_phi;
  Buffers(int64_t rows, int64_t cols)
      : mean(mrbm::test::poisoned(rows * cols)),
        var(mrbm::test::poisoned(rows * cols)),
        sample(mrbm::test::poisoned(rows * cols)),
        row_phi(static_cast<size_t>(rows), std::numeric_limits<double>::quiet_NaN()) {}
};

}  // namespace

TEST_CASE("fused pass equals the brute-force reference for every unit kind", "[multinary]") {
  for (const auto& uc : all_unit_cases()) {
    for (int64_t rows : {0, 1, 3}) {
      for (int64_t cols : {0, 1, 7, 300}) {
        INFO(uc.name << " rows=" << rows << " cols=" << cols);
        const auto x = random_floats(rows * cols, uc.x_lo, uc.x_hi, 17 + rows * 1000 + cols);
        const auto bias = random_floats(cols, -2.0f, 2.0f, 99 + cols);
        Buffers out(rows, cols);
        MultinaryArgs a;
        a.mean = out.mean.data();
        a.var = out.var.data();
        a.row_phi = out.row_phi.data();
        a.x = x.data();
        a.bias = cols > 0 ? bias.data() : nullptr;
        a.rows = rows;
        a.cols = cols;
        a.unit = uc.unit;
        REQUIRE(multinary_forward_cpu(a) == Status::kOk);
        for (int64_t r = 0; r < rows; ++r) {
          long double phi_ref = 0.0L;
          for (int64_t c = 0; c < cols; ++c) {
            const int64_t i = r * cols + c;
            const float xe = x[i] + bias[c];  // the pass adds the bias in float32 too
            const auto ref = unit_values_reference<long double>(uc.unit, static_cast<long double>(xe));
            REQUIRE(close_rel(out.mean[i], ref.mean, 1e-6));
            REQUIRE(close_rel(out.var[i], ref.var, 1e-6));
            phi_ref += ref.phi;
          }
          // Each Phi term is computed to ~1e-7 relative and summed in float64: 1e-6 relative.
          REQUIRE(close_rel(out.row_phi[r], phi_ref, 1e-6));
        }
      }
    }
  }
}

TEST_CASE("per-channel bias of NCHW layouts and optional outputs", "[multinary]") {
  const auto uc = make_unit_case("closed", UnitKind::kClosedForm, 255, 255.0 / 4, 1.0);
  const int64_t rows = 2, channels = 3, inner = 5, cols = channels * inner;
  const auto x = random_floats(rows * cols, -300.0f, 300.0f, 5);
  const auto bias = random_floats(channels, -50.0f, 50.0f, 6);
  Buffers out(rows, cols);
  MultinaryArgs a;
  a.mean = out.mean.data();
  a.x = x.data();
  a.bias = bias.data();
  a.rows = rows;
  a.cols = cols;
  a.bias_inner = inner;
  a.unit = uc.unit;
  REQUIRE(multinary_forward_cpu(a) == Status::kOk);
  for (int64_t i = 0; i < rows * cols; ++i) {
    const int64_t channel = (i % cols) / inner;
    const auto ref = unit_values_reference<long double>(uc.unit, x[i] + bias[channel]);
    REQUIRE(close_rel(out.mean[i], ref.mean, 1e-6));
    REQUIRE(std::isnan(out.var[i]));  // not requested: untouched
  }
}

TEST_CASE("row sums of Phi are float64 and exact for size 0 rows", "[multinary]") {
  const auto uc = make_unit_case("closed", UnitKind::kClosedForm, 255, 255.0 / 4, 1.0);
  std::vector<double> row_phi(4, std::numeric_limits<double>::quiet_NaN());
  MultinaryArgs a;
  a.row_phi = row_phi.data();
  a.rows = 4;
  a.cols = 0;
  a.unit = uc.unit;
  REQUIRE(multinary_forward_cpu(a) == Status::kOk);
  for (double v : row_phi) REQUIRE(v == 0.0);  // an empty row's sum is 0, and it is written
}

TEST_CASE("invalid arguments are rejected without writing", "[multinary]") {
  std::vector<float> x(4, 1.0f), mean(4, -1.0f), sample(4, -1.0f);
  MultinaryArgs good;
  good.mean = mean.data();
  good.x = x.data();
  good.rows = 2;
  good.cols = 2;
  good.unit.kind = UnitKind::kBinary;
  REQUIRE(multinary_forward_cpu(good) == Status::kOk);

  auto bad = good;
  bad.rows = -1;
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  bad = good;
  bad.mean = nullptr;  // no output at all
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  bad = good;
  bad.x = nullptr;
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  bad = good;
  bad.sample = sample.data();  // a sample buffer without a sampler
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  bad = good;
  bad.sampler = Sampler::kGaussian;  // a sampler without a buffer
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  bad = good;
  bad.bias = x.data();
  bad.bias_inner = 3;  // cols = 2 is not a multiple
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  bad = good;
  bad.unit.kind = UnitKind::kClosedForm;
  bad.unit.n = 3;
  bad.unit.scale = 0.3;  // N s = 0.9 copies: no exact binomial sampler
  bad.sample = sample.data();
  bad.sampler = Sampler::kExact;
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  bad = good;
  bad.unit.kind = UnitKind::kLogitCopies;
  bad.unit.n = 4;
  bad.unit.table = nullptr;
  CHECK(multinary_forward_cpu(bad) == Status::kInvalidArgument);
  for (float m : sample) CHECK(m == -1.0f);
}

TEST_CASE("non-finite pre-activations give the documented outputs", "[multinary]") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const auto& uc : all_unit_cases()) {
    INFO(uc.name);
    const std::vector<float> x = {nan, inf, -inf};
    for (Sampler sampler : {Sampler::kMean, Sampler::kGaussian, Sampler::kExact}) {
      if (!mrbm::test::supports_sampler(uc.unit, sampler)) continue;
      Buffers out(3, 1);
      MultinaryArgs a;
      a.mean = out.mean.data();
      a.var = out.var.data();
      a.sample = out.sample.data();
      a.row_phi = out.row_phi.data();
      a.x = x.data();
      a.rows = 3;
      a.cols = 1;
      a.unit = uc.unit;
      a.sampler = sampler;
      REQUIRE(multinary_forward_cpu(a) == Status::kOk);
      const float n = static_cast<float>(uc.unit.n);
      CHECK(std::isnan(out.mean[0]));
      CHECK(std::isnan(out.var[0]));
      CHECK(std::isnan(out.row_phi[0]));
      CHECK(std::isnan(out.sample[0]));
      CHECK(out.mean[1] == n);
      CHECK(out.var[1] == 0.0f);
      CHECK(out.row_phi[1] == std::numeric_limits<double>::infinity());
      CHECK(out.sample[1] == n);
      CHECK(out.mean[2] == 0.0f);
      CHECK(out.var[2] == 0.0f);
      CHECK(out.row_phi[2] == 0.0);
      CHECK(out.sample[2] == 0.0f);
    }
  }
}
