// The Adam optimizer on Variables (autodiff/adam.h): it minimizes a loss built on the tape, skips
// parameters without a gradient, follows the float64 definition of the algorithm, and a run that
// saves and restores its state continues bit-identically. [cuda]: CUDA steps equal CPU steps.
#include <cmath>

#include "autodiff/adam.h"
#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_reduce.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::autodiff;

namespace {

// loss = sum((p - target)^2) on the tape; gradient 2 (p - target).
void quadratic_step(Adam& adam, Variable& p, const Variable& target, Tape& tape) {
  const Variable d = sub(tape, p, target);
  tape.backward(sum(tape, mul(tape, d, d)));
  adam.step();
}

}  // namespace

TEST_CASE("Adam follows the float64 definition and lowers the loss", "[autodiff][adam]") {
  const auto p0 = mrbm::test::random_floats(9, -1, 1, 1);
  const auto target = mrbm::test::random_floats(9, -1, 1, 2);
  Variable p(Tensor::from_vector(p0, {9}), true, "p");
  const Variable t(Tensor::from_vector(target, {9}));
  kernels::AdamHyper hyper;
  hyper.lr = 0.05;
  hyper.weight_decay = 0.01;
  Adam adam({p}, hyper);
  // Reference: the textbook algorithm in double, fed the same (float32) gradients.
  std::vector<double> m(9, 0), v(9, 0), ref(p0.begin(), p0.end());
  for (int step = 1; step <= 30; ++step) {
    const auto before = p.value().to_vector<float>();
    for (int i = 0; i < 9; ++i) {
      const double g = 2.0 * (static_cast<double>(before[i]) - target[i]) + hyper.weight_decay * before[i];
      m[i] = hyper.beta1 * m[i] + (1 - hyper.beta1) * g;
      v[i] = hyper.beta2 * v[i] + (1 - hyper.beta2) * g * g;
      const double mh = m[i] / (1 - std::pow(hyper.beta1, step));
      const double vh = v[i] / (1 - std::pow(hyper.beta2, step));
      ref[i] = before[i] - hyper.lr * mh / (std::sqrt(vh) + hyper.eps);
    }
    Tape tape;
    quadratic_step(adam, p, t, tape);
    CHECK_FALSE(p.has_grad());  // step() clears the gradients
    const auto after = p.value().to_vector<float>();
    // Error model: one step from the same float32 parameters differs from the float64 update by
    // a few float32 roundings of the parameter and of the step (|step| <= lr).
    for (int i = 0; i < 9; ++i) REQUIRE(std::fabs(after[i] - ref[i]) <= 1e-6 * (std::fabs(ref[i]) + hyper.lr));
  }
  CHECK(adam.steps() == 30);
  double dist0 = 0, dist = 0;
  const auto pf = p.value().to_vector<float>();
  for (int i = 0; i < 9; ++i) {
    dist0 += std::fabs(p0[i] - target[i]);
    dist += std::fabs(pf[i] - target[i]);
  }
  CHECK(dist < 0.5 * dist0);
}

TEST_CASE("Adam skips parameters without a gradient", "[autodiff][adam]") {
  Variable used(Tensor::full({3}, 1.0), true), unused(Tensor::full({2}, 5.0), true);
  Adam adam({used, unused});
  Tape tape;
  tape.backward(sum(tape, used));
  adam.step();
  for (float x : unused.value().to_vector<float>()) CHECK(x == 5.0f);
  for (float x : used.value().to_vector<float>()) CHECK(x < 1.0f);
  const auto state = adam.state();
  for (float x : state.at("1.m").to_vector<float>()) CHECK(x == 0.0f);
}

TEST_CASE("Adam state save and restore continues bit-identically", "[autodiff][adam]") {
  const auto p0 = mrbm::test::random_floats(17, -1, 1, 3);
  const Variable t(Tensor::from_vector(mrbm::test::random_floats(17, -1, 1, 4), {17}));
  kernels::AdamHyper hyper;
  hyper.lr = 0.01;
  Variable p(Tensor::from_vector(p0, {17}), true, "weights");
  Adam adam({p}, hyper);
  for (int i = 0; i < 10; ++i) {
    Tape tape;
    quadratic_step(adam, p, t, tape);
  }
  std::map<std::string, Tensor> saved;
  for (const auto& [k, v] : adam.state()) saved[k] = v.clone();
  const Tensor saved_param = p.value().clone();
  for (int i = 0; i < 7; ++i) {
    Tape tape;
    quadratic_step(adam, p, t, tape);
  }
  // A fresh optimizer and parameter restored from the saved state.
  Variable q(saved_param.clone(), true, "weights");
  Adam resumed({q}, hyper);
  resumed.load_state(saved);
  CHECK(resumed.steps() == 10);
  for (int i = 0; i < 7; ++i) {
    Tape tape;
    quadratic_step(resumed, q, t, tape);
  }
  CHECK(q.value().to_vector<float>() == p.value().to_vector<float>());

  auto bad = saved;
  bad.erase("weights.v");
  CHECK_THROWS_AS(resumed.load_state(bad), InvalidArgument);
  bad = saved;
  bad["weights.m"] = Tensor::zeros({16});
  CHECK_THROWS_AS(resumed.load_state(bad), ShapeError);
  // A step beyond int64 (found by fuzz_checkpoint: the cast was undefined), NaN, a fraction.
  for (const double step : {6.6e180, std::nan(""), 2.5, -1.0}) {
    bad = saved;
    bad["step"] = Tensor::from_vector(std::vector<double>{step}, {1});
    CHECK_THROWS_AS(resumed.load_state(bad), InvalidArgument);
  }
}

TEST_CASE("Adam on CUDA equals Adam on the CPU bit for bit", "[autodiff][adam][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  CudaContext cuda(0);
  const auto p0 = mrbm::test::random_floats(1031, -1, 1, 5);
  const auto target = mrbm::test::random_floats(1031, -1, 1, 6);
  Variable pc(Tensor::from_vector(p0, {1031}), true);
  Variable pg(Tensor::from_vector(p0, {1031}).to(cuda.device(), cuda.stream()), true);
  const Variable tc(Tensor::from_vector(target, {1031}));
  const Variable tg(tc.value().to(cuda.device(), cuda.stream()));
  kernels::AdamHyper hyper;
  hyper.lr = 0.03;
  Adam adam_cpu({pc}, hyper), adam_gpu({pg}, hyper, &cuda);
  for (int i = 0; i < 5; ++i) {
    Tape tape_cpu, tape_gpu(&cuda);
    quadratic_step(adam_cpu, pc, tc, tape_cpu);
    quadratic_step(adam_gpu, pg, tg, tape_gpu);
  }
  CHECK(pg.value().to_vector<float>(cuda.stream()) == pc.value().to_vector<float>());
}
