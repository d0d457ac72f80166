// The paper's central identity (docs/math.md sections 1-3): the autodiff gradient of the
// contrastive free-energy loss L = mean[F(v) - F(sg(v'))] of a dense RBM equals the closed-form CD-1
// update, for binary and multinary hidden units:
//   dL/dW = (1/B) sum_n [ -v_n^T f(x_n) + v'_n^T f(x'_n) ],  dL/da = mean(v' - v),
//   dL/db = mean(f(x') - f(x)),   x = b + vW, x' = b + v'W.
// Built from the tape's ops only (no layer classes), in float64 so the comparison is tight.
#include <cmath>

#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_linear.h"
#include "autodiff/ops_multinary.h"
#include "autodiff/ops_reduce.h"
#include "kernels/multinary.h"
#include "kernels/multinary_reference.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::autodiff;

namespace {

std::vector<double> to_double(const std::vector<float>& f) { return {f.begin(), f.end()}; }

// F(v) = -a.v - sum_j Phi(x_j) per row, x = vW + b.
Variable free_energy(Tape& t, const Variable& v, const Variable& w, const Variable& a,
                     const Variable& b, const kernels::UnitSpec& hidden) {
  const Variable x = add_bias(t, matmul(t, v, w), b, 1);
  return scale(t, add(t, row_dot(t, v, a, 1), multinary_row_phi(t, x, hidden)), -1.0);
}

}  // namespace

TEST_CASE("autodiff of the contrastive loss equals closed-form CD-1 (dense)", "[autodiff][cd1]") {
  const int64_t batch = 5, nv = 7, nh = 4;
  struct Case {
    const char* name;
    kernels::UnitSpec hidden, visible;
    float v_max;
  };
  const auto closed = mrbm::test::make_unit_case("c", kernels::UnitKind::kClosedForm, 255, 64, 1);
  const auto binary = mrbm::test::make_unit_case("b", kernels::UnitKind::kBinary, 1, 1, 1);
  const auto logit = mrbm::test::make_unit_case("l", kernels::UnitKind::kLogitCopies, 16, 4, 1);
  const std::vector<Case> cases = {{"binary hidden, binary visible", binary.unit, binary.unit, 1.0f},
                                   {"255-level hidden and visible", closed.unit, closed.unit, 255.0f},
                                   {"16 logit copies hidden", logit.unit, binary.unit, 1.0f}};
  uint64_t seed = 100;
  for (const auto& c : cases) {
    INFO(c.name);
    const float w_scale = c.v_max > 1 ? 0.02f : 0.5f;
    const auto v_data = mrbm::test::random_floats(batch * nv, 0.0f, c.v_max, ++seed);
    const auto w_data = mrbm::test::random_floats(nv * nh, -w_scale, w_scale, ++seed);
    const auto a_data = mrbm::test::random_floats(nv, -0.5f, 0.5f, ++seed);
    const auto b_data = mrbm::test::random_floats(nh, -0.5f, 0.5f, ++seed);
    Variable v(Tensor::from_vector(to_double(v_data), {batch, nv}));
    Variable w(Tensor::from_vector(to_double(w_data), {nv, nh}), true);
    Variable a(Tensor::from_vector(to_double(a_data), {nv}), true);
    Variable b(Tensor::from_vector(to_double(b_data), {nh}), true);

    // Negative phase without gradient: h ~ gaussian sampler at x (float kernel), then the mean
    // reconstruction v' = f_v(a + h W^T).
    Tape tape;
    Tensor vp;
    {
      NoGradGuard no_grad;
      const auto x = add_bias(tape, matmul(tape, v, w), b, 1).value().to_vector<double>();
      std::vector<float> xf(x.begin(), x.end()), h(x.size());
      kernels::MultinaryArgs args;
      args.sample = h.data();
      args.sampler = kernels::Sampler::kGaussian;
      args.x = xf.data();
      args.rows = batch;
      args.cols = nh;
      args.unit = c.hidden;
      args.seed = 7;
      REQUIRE(kernels::multinary_forward_cpu(args) == kernels::Status::kOk);
      const Variable hv(Tensor::from_vector(to_double(h), {batch, nh}));
      const Variable y = add_bias(tape, matmul(tape, hv, w, false, true), a, 1);
      vp = multinary_mean(tape, y, c.visible).value();
    }
    const Variable v_neg(vp);  // sg(v'): a constant
    const Variable loss = mean(tape, sub(tape, free_energy(tape, v, w, a, b, c.hidden),
                                         free_energy(tape, v_neg, w, a, b, c.hidden)));
    // mean over a [batch] vector: (1/B) sum_n [F(v_n) - F(v'_n)]
    tape.backward(loss);

    // Closed form in long double.
    const auto vv = v.value().to_vector<double>(), vpv = vp.to_vector<double>();
    std::vector<long double> fx(batch * nh), fxp(batch * nh);
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t j = 0; j < nh; ++j) {
        long double x = b_data[j], xp = b_data[j];
        for (int64_t i = 0; i < nv; ++i) {
          x += static_cast<long double>(vv[n * nv + i]) * w_data[i * nh + j];
          xp += static_cast<long double>(vpv[n * nv + i]) * w_data[i * nh + j];
        }
        fx[n * nh + j] = kernels::unit_values_reference<long double>(c.hidden, x).mean;
        fxp[n * nh + j] = kernels::unit_values_reference<long double>(c.hidden, xp).mean;
      }
    }
    const auto gw = w.grad().to_vector<double>(), ga = a.grad().to_vector<double>();
    const auto gb = b.grad().to_vector<double>();
    // Error model: the tape computes in float64 (relative 1e-15 per op) except the unit math,
    // whose float64 twin is the same brute-force sum as the reference: 1e-10 relative to the
    // scale of the terms (|v| |f| ~ 255 * 255 for multinary units) is generous and still far
    // below any real difference (the terms are O(1) relative to that scale).
    const double scale = c.v_max * c.hidden.n;
    for (int64_t i = 0; i < nv; ++i) {
      for (int64_t j = 0; j < nh; ++j) {
        long double expected = 0;
        for (int64_t n = 0; n < batch; ++n) {
          expected += -vv[n * nv + i] * fx[n * nh + j] + vpv[n * nv + i] * fxp[n * nh + j];
        }
        expected /= batch;
        REQUIRE(std::fabs(gw[i * nh + j] - static_cast<double>(expected)) <= 1e-10 * scale);
      }
      long double expected_a = 0;
      for (int64_t n = 0; n < batch; ++n) expected_a += vpv[n * nv + i] - vv[n * nv + i];
      REQUIRE(std::fabs(ga[i] - static_cast<double>(expected_a / batch)) <= 1e-10 * c.v_max);
    }
    for (int64_t j = 0; j < nh; ++j) {
      long double expected_b = 0;
      for (int64_t n = 0; n < batch; ++n) expected_b += fxp[n * nh + j] - fx[n * nh + j];
      REQUIRE(std::fabs(gb[j] - static_cast<double>(expected_b / batch)) <= 1e-10 * c.hidden.n);
    }
    // The reconstruction really differs from the data (otherwise the test would be trivial).
    double diff = 0;
    for (size_t i = 0; i < vv.size(); ++i) diff += std::fabs(vv[i] - vpv[i]);
    CHECK(diff > 1e-3 * c.v_max * vv.size());
  }
}
