// Negative phases (issue 14; layers/model_spec.h, docs/math.md section 10): CD-k, persistent
// chains (PCD-k) and short-run chains from noise. For each, dense and conv, the autodiff gradient
// of L = mean_n F(v_n) - mean_m F(sg(v'_m)) equals the closed-form update with v' fixed; the chains
// advance exactly as specified (k Gibbs steps with their own seeds; persistence across steps, a
// chain count independent of the batch size, and across a checkpoint save/load).
#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "kernels/conv_reference.h"
#include "kernels/multinary_reference.h"
#include "layers/checkpoint.h"
#include "layers/conv_rbm.h"
#include "layers/rbm.h"
#include "layers/trainer.h"
#include "test/layer_test_support.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::layers;
using autodiff::Tape;
using autodiff::Variable;

namespace {

// The chain starts under test: CD-3 from the batch, and k steps from given states of M = 4 chains
// (what persistent and noise chains both hand to the layer).
struct ChainCase {
  const char* name;
  bool from_start;
  int64_t steps;
};
const ChainCase kCases[] = {{"CD-3", false, 3}, {"4 chains from a start, 2 steps", true, 2},
                            {"4 chains from a start, 1 step", true, 1}};

}  // namespace

TEST_CASE("dense Rbm: every negative phase's gradient is the closed-form update with v' fixed",
          "[layers][negative]") {
  for (const UnitConfig& hidden : {test::binary_unit(), test::closed_unit(255)}) {
    for (const ChainCase& c : kCases) {
      INFO("hidden " << unit_kind_name(hidden.kind) << ", " << c.name);
      const UnitConfig visible = test::closed_unit(255);
      const int64_t batch = 6, nv = 10, nh = 5, chains = c.from_start ? 4 : batch;
      Rbm rbm("rbm", nv, nh, visible, hidden, LayerOptions{}, 0, 11, Device::cpu(), nullptr);
      const auto vdata = test::random_floats(batch * nv, 0, 255, 3);
      const Variable v(Tensor::from_vector(vdata, {batch, nv}));
      const Tensor start = Tensor::from_vector(test::random_floats(chains * nv, 0, 255, 4), {chains, nv});
      Tape tape;
      const ContrastiveStep step =
          rbm.contrastive_step(tape, v, 5, 0, NegativeChain{c.from_start ? &start : nullptr, c.steps});
      tape.backward(step.loss);
      REQUIRE(step.chain_end.shape() == Shape{chains, nv});

      const auto w = test::to_doubles(rbm.weights().value()), b = test::to_doubles(rbm.hidden_bias().value());
      const auto vp = test::to_doubles(step.chain_end);
      auto pre = [&](const auto& data, int64_t rows) {
        std::vector<long double> x(static_cast<size_t>(rows * nh));
        for (int64_t n = 0; n < rows; ++n)
          for (int64_t j = 0; j < nh; ++j) {
            long double s = b[j];
            for (int64_t i = 0; i < nv; ++i) s += static_cast<long double>(data[n * nv + i]) * w[i * nh + j];
            x[n * nh + j] = s;
          }
        return x;
      };
      const auto fx = test::unit_mean(hidden, pre(vdata, batch)), fxp = test::unit_mean(hidden, pre(vp, chains));
      std::vector<long double> gw(nv * nh, 0), ga(nv, 0), gb(nh, 0);
      for (int64_t n = 0; n < batch; ++n) {
        for (int64_t i = 0; i < nv; ++i) {
          ga[i] -= vdata[n * nv + i] / static_cast<long double>(batch);
          for (int64_t j = 0; j < nh; ++j) gw[i * nh + j] -= vdata[n * nv + i] * fx[n * nh + j] / batch;
        }
        for (int64_t j = 0; j < nh; ++j) gb[j] -= fx[n * nh + j] / batch;
      }
      for (int64_t m = 0; m < chains; ++m) {
        for (int64_t i = 0; i < nv; ++i) {
          ga[i] += vp[m * nv + i] / static_cast<long double>(chains);
          for (int64_t j = 0; j < nh; ++j) gw[i * nh + j] += vp[m * nv + i] * fxp[m * nh + j] / chains;
        }
        for (int64_t j = 0; j < nh; ++j) gb[j] += fxp[m * nh + j] / chains;
      }
      CHECK(test::max_rel(test::to_doubles(rbm.weights().grad()), gw) < 1e-4);
      CHECK(test::max_rel(test::to_doubles(rbm.visible_bias().grad()), ga) < 1e-4);
      CHECK(test::max_rel(test::to_doubles(rbm.hidden_bias().grad()), gb) < 1e-4);
    }
  }
}

TEST_CASE("ConvRbm: every negative phase's gradient is the closed-form update with v' fixed",
          "[layers][negative]") {
  for (const ChainCase& c : kCases) {
    INFO(c.name);
    const UnitConfig unit = test::closed_unit(255);
    ConvGeometry g;
    g.in_channels = 2;
    g.in_h = 9;
    g.in_w = 7;
    g.out_channels = 3;
    ConvRbm rbm("conv", g, unit, unit, LayerOptions{}, 0, 12, Device::cpu(), nullptr);
    const int64_t batch = 3, chains = c.from_start ? 4 : batch, nv = 2 * 9 * 7;
    const auto vdata = test::random_floats(batch * nv, 0, 255, 4);
    const Variable v(Tensor::from_vector(vdata, {batch, 2, 9, 7}));
    const Tensor start = Tensor::from_vector(test::random_floats(chains * nv, 0, 255, 5), {chains, 2, 9, 7});
    Tape tape;
    const ContrastiveStep step =
        rbm.contrastive_step(tape, v, 6, 0, NegativeChain{c.from_start ? &start : nullptr, c.steps});
    tape.backward(step.loss);
    REQUIRE(step.chain_end.shape() == Shape{chains, 2, 9, 7});

    // Closed form in double through the direct-loop references, each phase over its own count.
    const auto w = test::to_doubles(rbm.weights().value()), b = test::to_doubles(rbm.hidden_bias().value());
    const auto vp = test::to_doubles(step.chain_end);
    const std::vector<double> vd(vdata.begin(), vdata.end());
    struct Phase {
      std::vector<double> wg;
      std::vector<long double> ga, gb;
    };
    auto phase = [&](const std::vector<double>& data, int64_t rows) {
      const kernels::ConvShape cs = kernels::make_conv_shape(rows, 2, 9, 7, 3, 4, 4, 2, 2, 1, 1);
      const int64_t plane = cs.out_h * cs.out_w, nh = 3 * plane;
      std::vector<double> x(static_cast<size_t>(rows * nh));
      REQUIRE(kernels::conv2d_reference<double>(x.data(), data.data(), w.data(), cs) == kernels::Status::kOk);
      std::vector<long double> xl(x.size());
      for (size_t i = 0; i < x.size(); ++i) xl[i] = x[i] + b[(i % nh) / plane];
      const auto fx = test::unit_mean(unit, xl);
      const std::vector<double> f(fx.begin(), fx.end());
      Phase p{std::vector<double>(w.size()), std::vector<long double>(2, 0), std::vector<long double>(3, 0)};
      REQUIRE(kernels::conv2d_weight_grad_reference<double>(p.wg.data(), data.data(), f.data(), cs) ==
              kernels::Status::kOk);
      for (double& x_ : p.wg) x_ /= static_cast<double>(rows);
      for (int64_t i = 0; i < rows * nv; ++i) p.ga[(i % nv) / 63] += data[i] / rows;
      for (int64_t i = 0; i < rows * nh; ++i) p.gb[(i % nh) / plane] += fx[i] / rows;
      return p;
    };
    const Phase pos = phase(vd, batch), neg = phase(vp, chains);
    std::vector<long double> gw(w.size()), ga(2), gb(3);
    for (size_t i = 0; i < w.size(); ++i) gw[i] = static_cast<long double>(neg.wg[i]) - pos.wg[i];
    for (size_t i = 0; i < 2; ++i) ga[i] = neg.ga[i] - pos.ga[i];
    for (size_t i = 0; i < 3; ++i) gb[i] = neg.gb[i] - pos.gb[i];
    CHECK(test::max_rel(test::to_doubles(rbm.weights().grad()), gw) < 1e-4);
    CHECK(test::max_rel(test::to_doubles(rbm.visible_bias().grad()), ga) < 1e-4);
    CHECK(test::max_rel(test::to_doubles(rbm.hidden_bias().grad()), gb) < 1e-4);
  }
}

TEST_CASE("a CD-k chain is k Gibbs steps, each with its own seed, and CD-1 is unchanged", "[layers][negative]") {
  const UnitConfig unit = test::closed_unit(15);
  const int64_t batch = 4, nv = 12, nh = 7;
  Rbm rbm("rbm", nv, nh, unit, unit, LayerOptions{}, 0, 21, Device::cpu(), nullptr);
  const Tensor v = Tensor::from_vector(test::random_floats(batch * nv, 0, 15, 8), {batch, nv});
  Tape tape;
  const uint64_t seed = 77;
  const uint32_t offset = 3;
  const ContrastiveStep cd1 = rbm.contrastive_step(tape, Variable(v), seed, offset);
  const ContrastiveStep cd1_explicit = rbm.contrastive_step(tape, Variable(v), seed, offset, NegativeChain{nullptr, 1});
  const ContrastiveStep cd3 = rbm.contrastive_step(tape, Variable(v), seed, offset, NegativeChain{nullptr, 3});
  // By hand: h_0 from the data's pass, then (visible mean, hidden sample with step t's seed).
  const auto sampler = rbm.options().sampler;
  Tensor h = rbm.hidden_sample(tape, v, sampler, seed, offset);
  const Tensor one_step = rbm.visible_mean(tape, h);
  CHECK(cd1.chain_end.to_vector<float>() == one_step.to_vector<float>());
  CHECK(cd1.reconstruction.to_vector<float>() == one_step.to_vector<float>());
  CHECK(cd1_explicit.chain_end.to_vector<float>() == one_step.to_vector<float>());
  for (int64_t t = 1; t < 3; ++t) {
    h = rbm.hidden_sample(tape, rbm.visible_mean(tape, h), sampler, gibbs_step_seed(seed, t), offset);
  }
  CHECK(cd3.chain_end.to_vector<float>() == rbm.visible_mean(tape, h).to_vector<float>());
  CHECK(cd3.chain_end.to_vector<float>() != one_step.to_vector<float>());
  // The steps' keys are distinct from each other and from the seeds of neighbouring runs.
  CHECK(gibbs_step_seed(seed, 0) == seed);
  CHECK(gibbs_step_seed(seed, 1) != gibbs_step_seed(seed, 2));
  CHECK(gibbs_step_seed(seed, 1) != gibbs_step_seed(seed + 1, 1));
  CHECK(gibbs_step_seed(seed, 1) != seed + 1);
}

namespace {

ModelSpec small_spec(ChainStart start, int64_t steps, int64_t chains) {
  ModelSpec s = preset("demo");
  s.height = s.width = 12;
  s.layers[0].size = 3;
  s.layers[1].size = 4;
  s.negative.start = start;
  s.negative.steps = steps;
  s.negative.chains = chains;
  return s;
}

Tensor images(int64_t n, uint64_t seed) {
  return Tensor::from_vector(test::random_floats(n * 144, 0, 255, seed), {n, 1, 12, 12});
}

std::vector<std::vector<float>> values_of(const std::vector<Tensor>& ts) {
  std::vector<std::vector<float>> out;
  for (const Tensor& t : ts) out.push_back(t.to_vector<float>());
  return out;
}

}  // namespace

TEST_CASE("persistent chains start from noise, persist across steps and do not follow the batch size",
          "[layers][negative]") {
  const ModelSpec spec = small_spec(ChainStart::kPersistent, 2, 5);
  Dbn dbn(spec, Device::cpu(), nullptr, 3);
  TrainOptions options;
  options.lr = 0.01;
  options.seed = 9;
  Trainer trainer(dbn, options);
  CHECK(dbn.chains().empty());
  // Step 0: the chains start from noise, 5 of them whatever the batch (3).
  {
    Tape tape = dbn.make_tape();
    const DbnLoss loss = dbn.loss(tape, dbn.prepare_input(images(3, 1)), options.seed, 0);
    REQUIRE(loss.chain_ends.size() == 2);
    CHECK(loss.chain_ends[0].shape() == Shape{5, 1, 12, 12});
    CHECK(loss.chain_ends[1].shape() == Shape{5, 3, 6, 6});
  }
  trainer.step(images(3, 1));
  REQUIRE(dbn.chains().size() == 2);
  CHECK(dbn.chains()[0].shape() == Shape{5, 1, 12, 12});
  // Step 1 continues from where step 0 stopped: layer 0's chain_end is 2 Gibbs steps from them.
  const std::vector<Tensor> before = dbn.chains();
  Tape tape = dbn.make_tape();
  const DbnLoss next = dbn.loss(tape, dbn.prepare_input(images(7, 2)), options.seed, 1);
  const RbmLayer& l0 = dbn.layer(0);
  const uint32_t offset = 64;  // step 1, layer 0
  Tensor h = l0.hidden_sample(tape, before[0], spec.sampler, options.seed, offset);
  h = l0.hidden_sample(tape, l0.visible_mean(tape, h), spec.sampler, gibbs_step_seed(options.seed, 1), offset);
  CHECK(next.chain_ends[0].to_vector<float>() == l0.visible_mean(tape, h).to_vector<float>());
  CHECK(next.chain_ends[0].shape() == Shape{5, 1, 12, 12});  // batch 7, still 5 chains
  // The reconstruction metric stays a reconstruction of the batch.
  CHECK(next.reconstruction.shape() == Shape{7, 1, 12, 12});
}

TEST_CASE("noise-started chains draw fresh noise at every step from (seed, step, layer)", "[layers][negative]") {
  const ModelSpec spec = small_spec(ChainStart::kNoise, 1, 4);
  Dbn dbn(spec, Device::cpu(), nullptr, 3);
  const Tensor input = dbn.prepare_input(images(2, 1));
  Tape tape = dbn.make_tape();
  const DbnLoss loss = dbn.loss(tape, input, 5, 2);
  CHECK(loss.chain_ends.empty());  // nothing persists
  // Layer 0 of step 2: one Gibbs step from the noise of (gibbs_step_seed(5, kNoiseStep), 128).
  const Tensor noise = dbn.visible_noise(0, 4, gibbs_step_seed(5, kNoiseStep), 128);
  const auto nv = noise.to_vector<float>();
  float lo = 1e9f, hi = -1e9f;
  for (float x : nv) lo = std::min(lo, x), hi = std::max(hi, x);
  CHECK(lo >= 0.0f);
  CHECK(hi <= 255.0f);
  CHECK(hi - lo > 200.0f);  // uniform over the whole range
  const ContrastiveStep by_hand =
      dbn.layer(0).contrastive_step(tape, Variable(input), 5, 128, NegativeChain{&noise, 1});
  const ContrastiveStep again =
      dbn.layer(0).contrastive_step(tape, Variable(input), 5, 128, NegativeChain{&noise, 1});
  CHECK(by_hand.chain_end.to_vector<float>() == again.chain_end.to_vector<float>());
  CHECK(loss.layers[0].value().to_vector<double>() == by_hand.loss.value().to_vector<double>());
  // Another step draws other noise.
  CHECK(dbn.visible_noise(0, 4, gibbs_step_seed(5, kNoiseStep), 192).to_vector<float>() != nv);
}

TEST_CASE("persistent chains travel in checkpoints and a PCD run resumes bit for bit", "[layers][negative]") {
  const ModelSpec spec = small_spec(ChainStart::kPersistent, 3, 6);
  TrainOptions options;
  options.lr = 0.01;
  options.seed = 4;
  const Tensor b1 = images(4, 1), b2 = images(4, 2);
  Dbn straight(spec, Device::cpu(), nullptr, 5);
  Trainer t1(straight, options);
  t1.step(b1);
  t1.step(b2);
  const test::TempDir dir;
  const std::string path = (dir.path / "pcd.safetensors").string();
  CheckpointInfo info;
  info.spec = spec;
  info.step = t1.steps();
  info.seed = options.seed;
  save_checkpoint(path, straight, &t1.adam(), info);
  t1.step(b1);

  Dbn resumed(spec, Device::cpu(), nullptr, 99);
  Trainer t2(resumed, options);
  load_checkpoint(path, resumed, &t2.adam());
  REQUIRE(resumed.chains().size() == 2);
  t2.step(b1);
  // Same machine, same calls: bit for bit (docs/architecture.md, reproducibility grades).
  CHECK(values_of(resumed.chains()) == values_of(straight.chains()));
  for (size_t i = 0; i < straight.parameters().size(); ++i) {
    CHECK(resumed.parameters()[i].value().to_vector<float>() ==
          straight.parameters()[i].value().to_vector<float>());
  }
  // Chains of the wrong shape are refused.
  CHECK_THROWS_AS(resumed.set_chains({resumed.chains()[1], resumed.chains()[0]}), InvalidArgument);
}

TEST_CASE("the negative phase in JSON specs: defaults, round trip, errors", "[layers][negative]") {
  const ModelSpec cd = preset("demo");
  CHECK(cd.negative == NegativePhase{});
  CHECK_FALSE(model_spec_to_json(cd).contains("negative_phase"));  // CD-1 specs as they were
  ModelSpec pcd = cd;
  pcd.negative = NegativePhase{ChainStart::kPersistent, 5, 256};
  const nlohmann::json j = model_spec_to_json(pcd);
  CHECK(j["negative_phase"]["start"] == "persistent");
  CHECK(model_spec_from_json(j, "x").negative == pcd.negative);
  nlohmann::json bad = j;
  bad["negative_phase"]["steps"] = 0;
  CHECK_THROWS_WITH(model_spec_from_json(bad, "m.json"),
                    Catch::Contains("m.json.negative_phase.steps: must be an integer in 1..100000"));
  bad = j;
  bad["negative_phase"]["start"] = "pcd";
  CHECK_THROWS_WITH(model_spec_from_json(bad, "m.json"),
                    Catch::Contains("m.json.negative_phase.start: unknown chain start 'pcd'"));
  bad = j;
  bad["negative_phase"]["k"] = 2;
  CHECK_THROWS_WITH(model_spec_from_json(bad, "m.json"), Catch::Contains("m.json.negative_phase.k: unknown field"));
}
