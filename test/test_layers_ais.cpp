// Issue 15: the log-likelihood of RBM layers. The base measures of the units reproduce their
// log-partition functions; the exact log Z agrees with a brute-force joint sum and between its two
// enumerated sides; log p(v) sums to 1 over all v; AIS lands within 3 standard errors of the exact
// log Z (dense and conv, binary and multinary hidden units, random and trained); its error shrinks
// with more chains and temperatures; the same seed gives the same estimate; units without an exact
// sampler are refused; CPU and CUDA agree [cuda].
#include <cmath>
#include <random>

#include "autodiff/adam.h"
#include "kernels/multinary_reference.h"
#include "layers/ais.h"
#include "layers/conv_rbm.h"
#include "layers/partition_exact.h"
#include "layers/rbm.h"
#include "layers/unit_states.h"
#include "test/test_support.h"

using namespace mrbm;
using namespace mrbm::layers;
using autodiff::Tape;
using autodiff::Variable;
using kernels::UnitKind;

namespace {

UnitConfig unit(UnitKind kind, int32_t n = 1, double scale = 0.0, double spacing = 1.0) {
  UnitConfig u;
  u.kind = kind;
  u.n = kind == UnitKind::kBinary ? 1 : n;
  u.scale = scale;
  u.spacing = spacing;
  return u;
}

LayerOptions exact_options() {
  LayerOptions o;
  o.sampler = kernels::Sampler::kExact;
  return o;
}

// Biases drawn N(0, bias_std^2) (the layers start at zero), so that the tests see non-trivial a, b.
void randomize_biases(const RbmLayer& layer, double bias_std, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> d(0.0f, static_cast<float>(bias_std));
  for (const Variable& p : {layer.visible_bias(), layer.hidden_bias()}) {
    std::vector<float> v(static_cast<size_t>(p.value().numel()));
    for (float& x : v) x = d(gen);
    Tensor t = p.value();
    t.copy_from(Tensor::from_vector(v, t.shape()));
  }
}

// Random binary data with per-element base rates in [0.1, 0.9] (the AIS start model's fit).
Tensor random_binary_data(const Shape& visible, int64_t count, uint64_t seed) {
  const int64_t nv = shape_numel(visible);
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> rate(0.1f, 0.9f), u(0.0f, 1.0f);
  std::vector<float> p(static_cast<size_t>(nv)), v(static_cast<size_t>(count * nv));
  for (float& x : p) x = rate(gen);
  for (int64_t r = 0; r < count; ++r) {
    for (int64_t i = 0; i < nv; ++i) v[static_cast<size_t>(r * nv + i)] = u(gen) < p[static_cast<size_t>(i)] ? 1.0f : 0.0f;
  }
  Shape shape = visible;
  shape.insert(shape.begin(), count);
  return Tensor::from_vector(v, shape);
}

// Bars-and-stripes-like patterns on a side x side image, each pixel flipped with probability 0.05:
// data with structure for the trained models.
Tensor pattern_data(int64_t side, int64_t count, uint64_t seed, const Shape& shape_per_sample) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v;
  for (int64_t r = 0; r < count; ++r) {
    const bool rows = u(gen) < 0.5f;
    std::vector<int> on(static_cast<size_t>(side));
    for (int& o : on) o = u(gen) < 0.5f;
    for (int64_t i = 0; i < side; ++i) {
      for (int64_t j = 0; j < side; ++j) {
        const int bit = on[static_cast<size_t>(rows ? i : j)];
        v.push_back(static_cast<float>(u(gen) < 0.05f ? 1 - bit : bit));
      }
    }
  }
  Shape shape = shape_per_sample;
  shape.insert(shape.begin(), count);
  return Tensor::from_vector(v, shape);
}

// A few hundred CD-1 steps with Adam: a trained model, whose distribution is far from the start
// model's (the hard case for AIS).
void train(const RbmLayer& layer, const Tensor& data, int64_t steps, double lr) {
  kernels::AdamHyper hyper;
  hyper.lr = lr;
  autodiff::Adam adam(layer.parameters(), hyper);
  Tape tape;
  const int64_t batch = 16, count = data.size(0);
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t begin = (s * batch) % (count - batch + 1);
    const ContrastiveStep step = layer.contrastive_step(tape, Variable(data.rows(begin, begin + batch)), 7, static_cast<uint32_t>(s));
    tape.backward(step.loss);
    adam.step();
  }
}

// The AIS test: exact log Z, then AIS with the base rate of `data`; |AIS - exact| <= 3 se + fp.
// Error model: se is the delta-method standard error of log mean w. The float32 rounding of the
// scaled pre-activations beta x perturbs each step's log-weight increment by about
// 2^-24 sum_j |beta x_j f(beta x_j)|, a few 1e-6 here, unbiased from step to step, so over K <= 4000
// steps it stays below 1e-3 nats: `fp` below.
struct AisCheck {
  double exact, ais, se;
};
AisCheck check_ais(const RbmLayer& layer, const Tensor& data, int64_t chains, int64_t temperatures,
                   uint64_t seed = 1) {
  Tape tape;
  const double exact = exact_log_partition(layer, tape).log_z;
  AisOptions o;
  o.chains = chains;
  o.temperatures = temperatures;
  o.seed = seed;
  const AisEstimate e = ais_log_partition(layer, tape, base_rate_model(layer, data), o);
  INFO(layer.name() << ": exact " << exact << ", AIS " << e.log_z << " +- " << e.std_error
                    << " (log Z_A " << e.log_z_base << ", effective chains " << e.effective_chains << ")");
  const double fp = 1e-3;
  CHECK(std::isfinite(e.log_z));
  CHECK(std::fabs(e.log_z - exact) <= 3.0 * e.std_error + fp);
  return {exact, e.log_z, e.std_error};
}

}  // namespace

TEST_CASE("unit states: the base measure reproduces the unit's log-partition function", "[layers][ais]") {
  // Phi(x) = log sum_m base(h_m) e^{x h_m} for every unit with a lattice of states.
  for (const UnitConfig& u : {unit(UnitKind::kBinary), unit(UnitKind::kClosedForm, 4, 1.5),
                              unit(UnitKind::kClosedForm, 255, 64), unit(UnitKind::kEqualCopies, 5, 0, 0.7),
                              unit(UnitKind::kLogitCopies, 7, 1.25), unit(UnitKind::kLogitCopies, 255)}) {
    INFO(unit_kind_name(u.kind) << " n = " << u.n);
    const UnitStates s = unit_states(u);
    for (double x : {-40.0, -3.0, -0.4, 0.0, 1.7, 6.0, 30.0}) {
      double top = -INFINITY;
      for (size_t m = 0; m < s.values.size(); ++m) top = std::max(top, s.log_base[m] + x * s.values[m]);
      double sum = 0;
      for (size_t m = 0; m < s.values.size(); ++m) sum += std::exp(s.log_base[m] + x * s.values[m] - top);
      const double phi = kernels::unit_values_reference<double>(u.spec(), x).phi;
      // float64 sums of a few hundred terms: relative error ~1e-13 of the largest term's size.
      CHECK(std::fabs(top + std::log(sum) - phi) <= 1e-10 * (1.0 + std::fabs(phi)));
    }
  }
}

TEST_CASE("units without an exact sampler are refused with a scale that would work", "[layers][ais]") {
  const UnitConfig preset_unit = unit(UnitKind::kClosedForm, 255);  // s = N/4, N s = 16256.25
  CHECK(exact_sampler_problem(unit(UnitKind::kClosedForm, 255, 64), "h").empty());
  CHECK(exact_sampler_problem(unit(UnitKind::kLogitCopies, 255), "h").empty());
  const std::string why = exact_sampler_problem(preset_unit, "layer0's hidden unit");
  CHECK_THAT(why, Catch::Contains("N s = 16256.25 is not an integer"));
  CHECK_THAT(why, Catch::Contains("s = 64"));
  CHECK_THAT(why, Catch::Contains("layer0's hidden unit"));

  Rbm rbm("r", 6, 4, unit(UnitKind::kBinary), preset_unit, LayerOptions{}, 0.5, 1, Device::cpu(), nullptr);
  Tape tape;
  const Tensor data = random_binary_data({6}, 20, 1);
  CHECK_THROWS_AS(ais_log_partition(rbm, tape, base_rate_model(rbm, data), AisOptions{}), UnsupportedError);
  CHECK_THROWS_WITH(exact_log_partition(rbm, tape), Catch::Contains("s = 64"));
}

TEST_CASE("exact log Z: brute-force joint sum, both enumerated sides, and log p(v) sums to one", "[layers][ais]") {
  SECTION("binary-binary against the joint sum over (v, h)") {
    Rbm rbm("r", 5, 4, unit(UnitKind::kBinary), unit(UnitKind::kBinary), exact_options(), 1.0, 3,
            Device::cpu(), nullptr);
    randomize_biases(rbm, 1.0, 4);
    const auto w = rbm.weights().value().to_vector<float>();
    const auto a = rbm.visible_bias().value().to_vector<float>();
    const auto b = rbm.hidden_bias().value().to_vector<float>();
    double z = 0;
    for (int vc = 0; vc < 32; ++vc) {
      for (int hc = 0; hc < 16; ++hc) {
        double e = 0;
        for (int i = 0; i < 5; ++i) e += ((vc >> i) & 1) * a[i];
        for (int j = 0; j < 4; ++j) e += ((hc >> j) & 1) * b[j];
        for (int i = 0; i < 5; ++i)
          for (int j = 0; j < 4; ++j) e += ((vc >> i) & 1) * ((hc >> j) & 1) * w[i * 4 + j];
        z += std::exp(e);
      }
    }
    Tape tape;
    // float32 pre-activations: relative error ~1e-7 per term of magnitude ~10.
    CHECK(exact_log_partition(rbm, tape, "visible").log_z == Approx(std::log(z)).margin(1e-5));
    CHECK(exact_log_partition(rbm, tape, "hidden").log_z == Approx(std::log(z)).margin(1e-5));
  }
  SECTION("multinary units on both sides, dense and conv: the two sides agree, sum p(v) = 1") {
    const UnitConfig closed3 = unit(UnitKind::kClosedForm, 2, 1.5);  // N s = 3: states 0, 2/3, 4/3, 2
    const UnitConfig copies = unit(UnitKind::kLogitCopies, 3, 1.0);
    Rbm dense("dense", 6, 5, closed3, copies, exact_options(), 0.6, 5, Device::cpu(), nullptr);
    ConvGeometry g;
    g.in_channels = 1;
    g.in_h = g.in_w = 4;
    g.out_channels = 2;  // hidden 2 x 2 x 2 = 8 units
    ConvRbm conv("conv", g, unit(UnitKind::kBinary), unit(UnitKind::kEqualCopies, 2, 0, 1.5),
                 exact_options(), 0.8, 6, Device::cpu(), nullptr);
    for (const RbmLayer* layer : {static_cast<const RbmLayer*>(&dense), static_cast<const RbmLayer*>(&conv)}) {
      INFO(layer->name());
      randomize_biases(*layer, 0.5, 8);
      Tape tape;
      const ExactLogPartition by_v = exact_log_partition(*layer, tape, "visible");
      const ExactLogPartition by_h = exact_log_partition(*layer, tape, "hidden");
      CHECK(by_v.log_z == Approx(by_h.log_z).margin(1e-4));
      // log p(v) over every visible state: the probabilities sum to 1.
      const UnitStates vs = unit_states(layer->visible_unit());
      const int64_t nv = shape_numel(layer->visible_shape());
      const int64_t radix = static_cast<int64_t>(vs.values.size());
      const int64_t total = static_cast<int64_t>(std::llround(std::pow(radix, nv)));
      std::vector<float> all;
      for (int64_t c = 0; c < total; ++c) {
        int64_t code = c;
        for (int64_t i = 0; i < nv; ++i, code /= radix) all.push_back(static_cast<float>(vs.values[code % radix]));
      }
      Shape shape = layer->visible_shape();
      shape.insert(shape.begin(), total);
      const std::vector<double> lp = log_likelihood(*layer, tape, Tensor::from_vector(all, shape), by_h.log_z);
      double sum = 0;
      for (double l : lp) sum += std::exp(l);
      CHECK(sum == Approx(1.0).margin(1e-4));
    }
  }
}

TEST_CASE("AIS is within 3 standard errors of the exact log Z: random dense and conv layers", "[layers][ais]") {
  SECTION("dense, binary hidden") {
    Rbm rbm("dense-binary", 16, 10, unit(UnitKind::kBinary), unit(UnitKind::kBinary), exact_options(),
            0.8, 11, Device::cpu(), nullptr);
    randomize_biases(rbm, 0.5, 12);
    check_ais(rbm, random_binary_data({16}, 200, 13), 64, 1000);
  }
  SECTION("dense, closed-form hidden with N s integer") {
    Rbm rbm("dense-closed", 16, 6, unit(UnitKind::kBinary), unit(UnitKind::kClosedForm, 4, 1.5),
            exact_options(), 0.5, 21, Device::cpu(), nullptr);
    randomize_biases(rbm, 0.5, 22);
    check_ais(rbm, random_binary_data({16}, 200, 23), 64, 1000);
  }
  SECTION("dense, equal-offset copies hidden") {
    Rbm rbm("dense-equal", 14, 6, unit(UnitKind::kBinary), unit(UnitKind::kEqualCopies, 3, 0, 1.0),
            exact_options(), 0.5, 31, Device::cpu(), nullptr);
    randomize_biases(rbm, 0.5, 32);
    check_ais(rbm, random_binary_data({14}, 200, 33), 64, 1000);
  }
  SECTION("conv, logit-offset copies hidden") {
    ConvGeometry g;
    g.in_channels = 1;
    g.in_h = g.in_w = 6;
    g.out_channels = 1;  // hidden 1 x 3 x 3, 4 states each: 4^9 joint states
    ConvRbm conv("conv-logit", g, unit(UnitKind::kBinary), unit(UnitKind::kLogitCopies, 3, 1.0),
                 exact_options(), 0.6, 41, Device::cpu(), nullptr);
    randomize_biases(conv, 0.5, 42);
    check_ais(conv, random_binary_data({1, 6, 6}, 200, 43), 64, 1000);
  }
  SECTION("conv, binary hidden, two channels") {
    ConvGeometry g;
    g.in_channels = 1;
    g.in_h = g.in_w = 6;
    g.out_channels = 2;  // 18 binary hidden units
    ConvRbm conv("conv-binary", g, unit(UnitKind::kBinary), unit(UnitKind::kBinary), exact_options(),
                 1.0, 51, Device::cpu(), nullptr);
    randomize_biases(conv, 0.5, 52);
    check_ais(conv, random_binary_data({1, 6, 6}, 200, 53), 64, 1000);
  }
}

TEST_CASE("AIS is within 3 standard errors of the exact log Z: trained layers", "[layers][ais]") {
  SECTION("dense 16 -> 8, binary hidden") {
    const Tensor data = pattern_data(4, 256, 61, {16});
    Rbm rbm("trained-binary", 16, 8, unit(UnitKind::kBinary), unit(UnitKind::kBinary), exact_options(),
            0.1, 62, Device::cpu(), nullptr);
    train(rbm, data, 400, 0.05);
    check_ais(rbm, data, 64, 2000);
  }
  SECTION("dense 16 -> 5, closed-form hidden N = 3, s = 1") {
    const Tensor data = pattern_data(4, 256, 71, {16});
    Rbm rbm("trained-closed", 16, 5, unit(UnitKind::kBinary), unit(UnitKind::kClosedForm, 3, 1.0),
            exact_options(), 0.1, 72, Device::cpu(), nullptr);
    train(rbm, data, 400, 0.05);
    check_ais(rbm, data, 64, 2000);
  }
  SECTION("conv 1x6x6 -> 2x3x3, binary hidden") {
    const Tensor data = pattern_data(6, 256, 81, {1, 6, 6});
    ConvGeometry g;
    g.in_channels = 1;
    g.in_h = g.in_w = 6;
    g.out_channels = 2;
    ConvRbm conv("trained-conv", g, unit(UnitKind::kBinary), unit(UnitKind::kBinary), exact_options(),
                 0.1, 82, Device::cpu(), nullptr);
    train(conv, data, 400, 0.05);
    check_ais(conv, data, 64, 2000);
  }
}

TEST_CASE("AIS: the error shrinks with more chains and temperatures, and the same seed gives the same estimate", "[layers][ais]") {
  const Tensor data = pattern_data(4, 256, 91, {16});
  Rbm rbm("trained", 16, 8, unit(UnitKind::kBinary), unit(UnitKind::kBinary), exact_options(), 0.1, 92,
          Device::cpu(), nullptr);
  train(rbm, data, 400, 0.05);
  Tape tape;
  const double exact = exact_log_partition(rbm, tape).log_z;
  const BaseRateModel base = base_rate_model(rbm, data);
  auto run = [&](int64_t chains, int64_t temperatures, uint64_t seed) {
    AisOptions o;
    o.chains = chains;
    o.temperatures = temperatures;
    o.seed = seed;
    return ais_log_partition(rbm, tape, base, o);
  };
  const AisEstimate few_t = run(64, 30, 1), many_t = run(64, 1500, 1);
  INFO("K = 30: " << few_t.log_z << " +- " << few_t.std_error << "; K = 1500: " << many_t.log_z << " +- "
                  << many_t.std_error << "; exact " << exact);
  // The variance of log w falls roughly as 1/K once the steps are small; 50x the temperatures must
  // cut the standard error by far more than the noise of a 64-chain estimate of it (~10-20%).
  CHECK(many_t.std_error < 0.5 * few_t.std_error);
  CHECK(std::fabs(many_t.log_z - exact) <= 3.0 * many_t.std_error + 1e-3);
  const AisEstimate few_m = run(16, 300, 2), many_m = run(256, 300, 2);
  INFO("M = 16: " << few_m.log_z << " +- " << few_m.std_error << "; M = 256: " << many_m.log_z << " +- "
                  << many_m.std_error);
  // se ~ 1/sqrt(M): 16x the chains gives 1/4 of the error; 1/2 leaves room for the estimate's noise.
  CHECK(many_m.std_error < 0.5 * few_m.std_error);
  CHECK(std::fabs(many_m.log_z - exact) <= 3.0 * many_m.std_error + 1e-3);

  const AisEstimate again = run(16, 300, 2), other = run(16, 300, 3);
  CHECK(again.log_z == few_m.log_z);  // bit for bit: counter-based draws
  CHECK(again.log_weights == few_m.log_weights);
  CHECK(other.log_weights != few_m.log_weights);
  // Chain m's draws do not depend on the number of chains: the first 16 of 256 are the 16.
  CHECK(std::vector<double>(many_m.log_weights.begin(), many_m.log_weights.begin() + 16) == few_m.log_weights);
}

TEST_CASE("AIS schedule: three linear pieces from 0 to 1", "[layers][ais]") {
  const std::vector<double> b = ais_schedule(14500);
  REQUIRE(b.size() == 14501);
  CHECK(b.front() == 0.0);
  CHECK(b.back() == 1.0);
  CHECK(b[500] == Approx(0.5));
  CHECK(b[4500] == Approx(0.9));
  for (size_t i = 1; i < b.size(); ++i) CHECK(b[i] > b[i - 1]);
  CHECK(ais_schedule(1) == std::vector<double>{0.0, 1.0});
}

TEST_CASE("AIS on CUDA agrees with the CPU", "[layers][ais][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  CudaContext cuda(0);
  ConvGeometry g;
  g.in_channels = 1;
  // One hidden channel of 3 x 3 units (6 x 6 images), so that the exact log Z below enumerates
  // at most 4^9 = 262144 hidden states (N s + 1 = 4 levels; two channels would be 4^18, more
  // than exact_log_partition allows: the simulator found this, as no GPU had run the test to its
  // end). In the simulator 4 x 4 images (2 x 2 hidden units, 256 states): enumerating 262144
  // states there takes minutes.
  g.in_h = g.in_w = mrbm::test::gpu_scale_cases() ? 6 : 4;
  g.out_channels = 1;
  // Three hidden kinds on a GPU; in the simulator (mrbm::test::gpu_scale_cases) the closed form
  // only: the AIS and enumeration code is the same for every kind, and the fused multinary tests
  // cover the kinds' kernels.
  std::vector<UnitConfig> kinds = {unit(UnitKind::kClosedForm, 2, 1.5)};
  if (mrbm::test::gpu_scale_cases()) {
    kinds.push_back(unit(UnitKind::kBinary));
    kinds.push_back(unit(UnitKind::kLogitCopies, 3, 1.0));
  }
  for (const UnitConfig& hidden : kinds) {
    INFO(unit_kind_name(hidden.kind));
    ConvRbm cpu("cpu", g, unit(UnitKind::kBinary), hidden, exact_options(), 0.6, 3, Device::cpu(), nullptr);
    ConvRbm gpu("gpu", g, unit(UnitKind::kBinary), hidden, exact_options(), 0.6, 3, cuda.device(), cuda.stream());
    const Tensor data = random_binary_data({1, g.in_h, g.in_w}, 100, 4);
    Tape tc, tg(&cuda);
    AisOptions o;
    // 64 chains and 500 temperatures on a GPU; 16 and 100 in the simulator
    // (mrbm::test::gpu_scale_cases), where every Gibbs half-step is a few launches of 16k fibers.
    // Fewer chains and temperatures only widen the standard errors the bound below is made of.
    o.chains = mrbm::test::gpu_scale_cases() ? 64 : 16;
    o.temperatures = mrbm::test::gpu_scale_cases() ? 500 : 100;
    const AisEstimate ec = ais_log_partition(cpu, tc, base_rate_model(cpu, data), o);
    const AisEstimate eg = ais_log_partition(gpu, tg, base_rate_model(gpu, data), o);
    // Same draws on both devices, but GEMM/convolution rounding can flip a draw at a threshold and
    // decorrelate a chain from there on: agreement within the two estimates' combined 3 se.
    CHECK(std::fabs(ec.log_z - eg.log_z) <= 3.0 * std::hypot(ec.std_error, eg.std_error) + 1e-3);
    CHECK(ec.log_z_base == Approx(eg.log_z_base).epsilon(1e-12));
    const double xc = exact_log_partition(cpu, tc).log_z, xg = exact_log_partition(gpu, tg).log_z;
    CHECK(xg == Approx(xc).margin(1e-4));  // float32 pre-activations, summation order
    const Tensor v = binarize(data.rows(0, 8), 5);
    const std::vector<double> lc = log_likelihood(cpu, tc, v, xc);
    const std::vector<double> lg = log_likelihood(gpu, tg, v.to(cuda.device(), cuda.stream()), xc);
    for (size_t i = 0; i < lc.size(); ++i) CHECK(lg[i] == Approx(lc[i]).margin(1e-4));
  }
}
