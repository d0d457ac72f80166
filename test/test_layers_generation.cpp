// Generation's chain options (layers/dbn.h GibbsOptions, `mrbm sample --visible/--anneal-from`):
// the defaults are the old chain bit for bit; an inverse temperature beta multiplies the
// pre-activations exactly (checked against float64 for binary and closed-form units); annealing
// follows the documented linear schedule and visible sampling draws from its own key, both
// reproduced step by step by hand.
#include <cmath>
#include <nlohmann/json.hpp>

#include "layers/dbn.h"
#include "test/layer_test_support.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::layers;
using autodiff::Tape;

namespace {

ModelSpec dense_spec(const char* visible_kind) {
  const nlohmann::json j = {
      {"name", "gen"},
      {"input", {{"channels", 1}, {"height", 4}, {"width", 4}, {"unit", {{"kind", visible_kind}}}}},
      {"layers", {{{"type", "dense"}, {"units", 6}, {"hidden", {{"kind", "binary"}}}}}}};
  return model_spec_from_json(j, "test");
}

}  // namespace

TEST_CASE("tempered units: beta multiplies the pre-activation, and beta = 1 is the model itself",
          "[layers][generation]") {
  for (const char* kind : {"binary", "closed"}) {
    INFO("visible " << kind);
    const ModelSpec spec = dense_spec(kind);
    Dbn dbn(spec, Device::cpu(), nullptr, 3);
    const RbmLayer& layer = dbn.layer(0);
    const int64_t nv = 16, nh = 6, count = 5;
    const double top = spec.input_unit.max_value();
    const Tensor v = Tensor::from_vector(test::random_floats(count * nv, 0, static_cast<float>(top), 4), {count, nv});
    const Tensor h = Tensor::from_vector(test::random_floats(count * nh, 0, 1, 5), {count, nh});
    Tape tape;
    const double beta = 0.3;
    // The mean "sampler" returns f(beta x): compare with float64 sigma(beta (b + v W)).
    const auto hm = layer.hidden_sample(tape, v, kernels::Sampler::kMean, 1, 0, beta).to_vector<float>();
    const auto vm = layer.visible_mean(tape, h, beta).to_vector<float>();
    const auto w = test::to_doubles(layer.weights().value());  // [nv, nh]
    const auto a = test::to_doubles(layer.visible_bias().value());
    const auto b = test::to_doubles(layer.hidden_bias().value());
    const auto vd = test::to_doubles(v), hd = test::to_doubles(h);
    const double n = spec.input_unit.max_value(), s = spec.input_unit.kind == kernels::UnitKind::kBinary
                                                          ? 1.0
                                                          : spec.input_unit.effective_scale();
    double worst_h = 0, worst_v = 0;
    for (int64_t r = 0; r < count; ++r) {
      for (int64_t j = 0; j < nh; ++j) {
        double x = b[j];
        for (int64_t i = 0; i < nv; ++i) x += vd[r * nv + i] * w[i * nh + j];
        const double want = 1 / (1 + std::exp(-beta * x));
        worst_h = std::max(worst_h, std::fabs(hm[r * nh + j] - want));
      }
      for (int64_t i = 0; i < nv; ++i) {
        double y = a[i];
        for (int64_t j = 0; j < nh; ++j) y += hd[r * nh + j] * w[i * nh + j];
        const double want = n / (1 + std::exp(-beta * y / s));
        worst_v = std::max(worst_v, std::fabs(vm[r * nv + i] - want) / n);
      }
    }
    // float32 GEMM of 16 terms and a float32 sigmoid: a few ulps of values in [0, 1] (1e-6 is
    // about 8 ulps at 1, far below a missing or doubled beta, which moves them by 1e-2 here).
    CHECK(worst_h < 1e-6);
    CHECK(worst_v < 1e-6);
    // beta = 1 adds no operation: the same bits as the untempered call.
    CHECK(layer.visible_mean(tape, h, 1.0).to_vector<float>() == layer.visible_mean(tape, h).to_vector<float>());
    CHECK(layer.visible_mean(tape, h, beta).to_vector<float>() != layer.visible_mean(tape, h).to_vector<float>());
  }
}

TEST_CASE("generation: default options are the old chain; annealing and visible samples step as documented",
          "[layers][generation]") {
  ModelSpec spec = dense_spec("binary");
  spec.sampler = kernels::Sampler::kExact;  // Bernoulli draws, so that a sampled state is 0 or 1
  Dbn dbn(spec, Device::cpu(), nullptr, 7);
  const RbmLayer& layer = dbn.layer(0);
  const int64_t count = 9;
  const uint64_t seed = 42;
  GibbsOptions plain;
  plain.steps = 3;
  const Tensor start = dbn.top_start(count, seed, nullptr);
  CHECK(dbn.generate(count, plain, seed, nullptr).to_vector<float>() ==
        dbn.generate(count, 3, seed, nullptr).to_vector<float>());
  CHECK(dbn.generate_from_top(start, plain, seed).to_vector<float>() ==
        dbn.generate(count, 3, seed, nullptr).to_vector<float>());

  GibbsOptions annealed = plain;
  annealed.beta_start = 0.25;
  annealed.visible_samples = true;
  // By hand: beta_s = 0.25 + 0.75 (s + 1) / 3; hidden draws from (seed, s), visible draws from
  // (gibbs_step_seed(seed, kNoiseStep + 1), s); the last step shows the visible mean.
  Tape tape;
  Tensor v = start;
  const uint64_t visible_seed = gibbs_step_seed(seed, kNoiseStep + 1);
  std::vector<float> middle;
  for (int64_t s = 0; s < 3; ++s) {
    const double beta = 0.25 + 0.75 * static_cast<double>(s + 1) / 3.0;
    const Tensor h = layer.hidden_sample(tape, v, spec.sampler, seed, static_cast<uint32_t>(s), beta);
    v = s < 2 ? layer.visible_sample(tape, h, spec.sampler, visible_seed, static_cast<uint32_t>(s), beta)
              : layer.visible_mean(tape, h, beta);
    if (s == 1) middle = v.to_vector<float>();
  }
  const auto got = dbn.generate_from_top(start, annealed, seed).to_vector<float>();
  CHECK(got == v.reshape({count, 1, 4, 4}).to_vector<float>());
  // A sampled binary visible state is 0 or 1; the shown image is a mean, strictly inside (0, 1).
  for (float x : middle) CHECK((x == 0.0f || x == 1.0f));
  for (float x : got) CHECK((x > 0.0f && x < 1.0f));
  CHECK(got != dbn.generate_from_top(start, plain, seed).to_vector<float>());
  GibbsOptions bad = plain;
  bad.beta_start = 0;
  CHECK_THROWS_WITH(dbn.generate_from_top(start, bad, seed),
                    Catch::Matchers::Contains("annealing start beta must be in (0, 1]"));
}
