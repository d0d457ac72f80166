// The layers of issue 4: each layer's autodiff gradient equals the closed-form CD-1 update (dense
// and conv; binary and multinary hidden units), the extra inter-layer gradient of the joint DBN
// equals the formula of docs/math.md section 5, and switches behave as documented.
#include <cmath>

#include "autodiff/adam.h"
#include "core/conv.h"
#include "kernels/conv_reference.h"
#include "kernels/multinary_reference.h"
#include "layers/conv_rbm.h"
#include "layers/dbn.h"
#include "layers/rbm.h"
#include "test/layer_test_support.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::layers;
using autodiff::Tape;
using autodiff::Variable;

TEST_CASE("dense Rbm: the loss gradient is CD-1", "[layers]") {
  for (const UnitConfig& hidden : {test::binary_unit(), test::closed_unit(255)}) {
    for (const UnitConfig& visible : {test::binary_unit(), test::closed_unit(255)}) {
      INFO("hidden " << unit_kind_name(hidden.kind) << ", visible " << unit_kind_name(visible.kind));
      const int64_t batch = 6, nv = 10, nh = 5;
      Rbm rbm("rbm", nv, nh, visible, hidden, LayerOptions{}, 0, 11, Device::cpu(), nullptr);
      const auto vdata = mrbm::test::random_floats(batch * nv, 0, static_cast<float>(visible.n), 3);
      const Variable v(Tensor::from_vector(vdata, {batch, nv}));
      Tape tape;
      const ContrastiveStep step = rbm.contrastive_step(tape, v, 5, 0);
      tape.backward(step.loss);

      const auto w = test::to_doubles(rbm.weights().value()), b = test::to_doubles(rbm.hidden_bias().value());
      const auto vp = test::to_doubles(step.reconstruction);
      std::vector<long double> x(batch * nh), xp(batch * nh);
      for (int64_t n = 0; n < batch; ++n) {
        for (int64_t j = 0; j < nh; ++j) {
          long double s = b[j], sp = b[j];
          for (int64_t i = 0; i < nv; ++i) {
            s += static_cast<long double>(vdata[n * nv + i]) * w[i * nh + j];
            sp += static_cast<long double>(vp[n * nv + i]) * w[i * nh + j];
          }
          x[n * nh + j] = s;
          xp[n * nh + j] = sp;
        }
      }
      const auto fx = test::unit_mean(hidden, x), fxp = test::unit_mean(hidden, xp);
      std::vector<long double> gw(nv * nh, 0), ga(nv, 0), gb(nh, 0);
      for (int64_t n = 0; n < batch; ++n) {
        for (int64_t i = 0; i < nv; ++i) {
          ga[i] += (vp[n * nv + i] - vdata[n * nv + i]) / batch;
          for (int64_t j = 0; j < nh; ++j) {
            gw[i * nh + j] += (-vdata[n * nv + i] * fx[n * nh + j] + vp[n * nv + i] * fxp[n * nh + j]) / batch;
          }
        }
        for (int64_t j = 0; j < nh; ++j) gb[j] += (fxp[n * nh + j] - fx[n * nh + j]) / batch;
      }
      CHECK(test::max_rel(test::to_doubles(rbm.weights().grad()), gw) < 1e-4);
      CHECK(test::max_rel(test::to_doubles(rbm.visible_bias().grad()), ga) < 1e-4);
      CHECK(test::max_rel(test::to_doubles(rbm.hidden_bias().grad()), gb) < 1e-4);
    }
  }
}

TEST_CASE("ConvRbm: the loss gradient is CD-1 (conv weight gradients)", "[layers]") {
  for (const UnitConfig& unit : {test::binary_unit(), test::closed_unit(255)}) {
    INFO(unit_kind_name(unit.kind));
    ConvGeometry g;
    g.in_channels = 2;
    g.in_h = 9;
    g.in_w = 7;
    g.out_channels = 3;
    ConvRbm rbm("conv", g, unit, unit, LayerOptions{}, 0, 12, Device::cpu(), nullptr);
    const int64_t batch = 3, nv = 2 * 9 * 7;
    const auto vdata = mrbm::test::random_floats(batch * nv, 0, static_cast<float>(unit.n), 4);
    const Variable v(Tensor::from_vector(vdata, {batch, 2, 9, 7}));
    Tape tape;
    const ContrastiveStep step = rbm.contrastive_step(tape, v, 6, 0);
    tape.backward(step.loss);

    // Closed form in double through the direct-loop references.
    const kernels::ConvShape cs = kernels::make_conv_shape(batch, 2, 9, 7, 3, 4, 4, 2, 2, 1, 1);
    const auto w = test::to_doubles(rbm.weights().value()), b = test::to_doubles(rbm.hidden_bias().value());
    const auto vp = test::to_doubles(step.reconstruction);
    const std::vector<double> vd(vdata.begin(), vdata.end());
    const int64_t nh = 3 * cs.out_h * cs.out_w, plane = cs.out_h * cs.out_w;
    std::vector<double> x(batch * nh), xp(batch * nh);
    REQUIRE(kernels::conv2d_reference<double>(x.data(), vd.data(), w.data(), cs) == kernels::Status::kOk);
    REQUIRE(kernels::conv2d_reference<double>(xp.data(), vp.data(), w.data(), cs) == kernels::Status::kOk);
    std::vector<long double> xl(x.size()), xpl(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      xl[i] = x[i] + b[(i % nh) / plane];
      xpl[i] = xp[i] + b[(i % nh) / plane];
    }
    const auto fx = test::unit_mean(unit, xl), fxp = test::unit_mean(unit, xpl);
    std::vector<double> f_pos(fx.begin(), fx.end()), f_neg(fxp.begin(), fxp.end());
    std::vector<double> wg_pos(w.size()), wg_neg(w.size());
    REQUIRE(kernels::conv2d_weight_grad_reference<double>(wg_pos.data(), vd.data(), f_pos.data(), cs) == kernels::Status::kOk);
    REQUIRE(kernels::conv2d_weight_grad_reference<double>(wg_neg.data(), vp.data(), f_neg.data(), cs) == kernels::Status::kOk);
    std::vector<long double> gw(w.size()), ga(2, 0), gb(3, 0);
    for (size_t i = 0; i < w.size(); ++i) gw[i] = (wg_neg[i] - wg_pos[i]) / batch;
    for (int64_t i = 0; i < batch * nv; ++i) ga[(i % nv) / 63] += (vp[i] - vd[i]) / batch;
    for (int64_t i = 0; i < batch * nh; ++i) gb[(i % nh) / plane] += (fxp[i] - fx[i]) / batch;
    CHECK(test::max_rel(test::to_doubles(rbm.weights().grad()), gw) < 1e-4);
    CHECK(test::max_rel(test::to_doubles(rbm.visible_bias().grad()), ga) < 1e-4);
    CHECK(test::max_rel(test::to_doubles(rbm.hidden_bias().grad()), gb) < 1e-4);
  }
}

TEST_CASE("joint DBN: layer 1 receives dL2/dW1 = (1/B) v1^T [G .* f1'(x1)]", "[layers]") {
  // Two dense layers. The joint loss's gradient on W1 minus the detached loss's gradient is the
  // inter-layer term of docs/math.md section 5, G = -a2 - f2(x2) W2^T (v'2 held fixed).
  ModelSpec spec;
  spec.name = "two-dense";
  spec.channels = 1;
  spec.height = 3;
  spec.width = 4;
  spec.input_unit = test::binary_unit();
  LayerSpec l1;
  l1.type = "dense";
  l1.size = 5;
  l1.hidden = test::binary_unit();
  LayerSpec l2 = l1;
  l2.size = 4;
  spec.layers = {l1, l2};
  spec.sampler = kernels::Sampler::kMean;
  auto grads = [&](bool joint) {
    ModelSpec s = spec;
    s.joint = joint;
    Dbn dbn(s, Device::cpu(), nullptr, 21);
    // Non-zero visible bias of layer 2 so that G has both terms.
    Tensor a2 = dbn.layer(1).visible_bias().value();  // shares the parameter's storage
    a2.fill(0.3);
    const auto input = Tensor::from_vector(mrbm::test::random_floats(8 * 12, 0, 1, 22), {8, 1, 3, 4});
    Tape tape;
    const DbnLoss loss = dbn.loss(tape, input, 1, 0);
    tape.backward(loss.total);
    return std::make_pair(test::to_doubles(dbn.layer(0).weights().grad()), std::move(dbn));
  };
  auto [joint_gw, joint_dbn] = grads(true);
  auto [detached_gw, detached_dbn] = grads(false);

  // The formula from the parameters (identical in both models: same seed).
  const Dbn& d = joint_dbn;
  const auto w1 = test::to_doubles(d.layer(0).weights().value()), b1 = test::to_doubles(d.layer(0).hidden_bias().value());
  const auto w2 = test::to_doubles(d.layer(1).weights().value()), b2 = test::to_doubles(d.layer(1).hidden_bias().value());
  const auto a2 = test::to_doubles(d.layer(1).visible_bias().value());
  const auto v1 = mrbm::test::random_floats(8 * 12, 0, 1, 22);
  const int64_t B = 8, n0 = 12, n1 = 5, n2 = 4;
  std::vector<long double> extra(n0 * n1, 0);
  for (int64_t n = 0; n < B; ++n) {
    std::vector<long double> x1(n1), f1(n1), df1(n1), x2(n2), f2(n2);
    for (int64_t j = 0; j < n1; ++j) {
      x1[j] = b1[j];
      for (int64_t i = 0; i < n0; ++i) x1[j] += static_cast<long double>(v1[n * n0 + i]) * w1[i * n1 + j];
      const auto r = kernels::unit_values_reference<long double>(test::binary_unit().spec(), x1[j]);
      f1[j] = r.mean;
      df1[j] = r.var;
    }
    for (int64_t k = 0; k < n2; ++k) {
      x2[k] = b2[k];
      for (int64_t j = 0; j < n1; ++j) x2[k] += f1[j] * w2[j * n2 + k];
      f2[k] = kernels::unit_values_reference<long double>(test::binary_unit().spec(), x2[k]).mean;
    }
    for (int64_t j = 0; j < n1; ++j) {
      long double g = -a2[j];
      for (int64_t k = 0; k < n2; ++k) g -= f2[k] * w2[j * n2 + k];
      for (int64_t i = 0; i < n0; ++i) extra[i * n1 + j] += v1[n * n0 + i] * g * df1[j] / B;
    }
  }
  std::vector<double> difference(joint_gw.size());
  for (size_t i = 0; i < joint_gw.size(); ++i) difference[i] = joint_gw[i] - detached_gw[i];
  CHECK(test::max_rel(difference, extra) < 1e-4);
  long double norm = 0;
  for (auto e : extra) norm += std::fabs(e);
  CHECK(norm > 1e-3);  // the inter-layer term is really there
}

TEST_CASE("the stop-gradient switch changes the gradient", "[layers]") {
  LayerOptions with_sg, without_sg;
  without_sg.stop_gradient = false;
  const auto vdata = mrbm::test::random_floats(4 * 6, 0, 1, 31);
  auto grad = [&](const LayerOptions& o) {
    Rbm rbm("rbm", 6, 3, test::binary_unit(), test::binary_unit(), o, 0.5, 13, Device::cpu(), nullptr);
    Tape tape;
    const ContrastiveStep s = rbm.contrastive_step(tape, Variable(Tensor::from_vector(vdata, {4, 6})), 1, 0);
    tape.backward(s.loss);
    return test::to_doubles(rbm.weights().grad());
  };
  const auto a = grad(with_sg), b = grad(without_sg);
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff += std::fabs(a[i] - b[i]);
  CHECK(diff > 1e-4);
}
