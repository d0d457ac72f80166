// AIS of log Z and the test log-likelihood (layers/ais.h).
#include "layers/ais.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_multinary.h"
#include "autodiff/ops_reduce.h"
#include "kernels/multinary_reference.h"
#include "kernels/philox.h"
#include "kernels/random_distributions.h"
#include "layers/unit_states.h"

namespace mrbm::layers {

using autodiff::NoGradGuard;
using autodiff::Tape;
using autodiff::Variable;

std::vector<double> ais_schedule(int64_t temperatures) {
  MRBM_CHECK(temperatures >= 1, "AIS needs at least one temperature, got " << temperatures);
  const int64_t k = temperatures;
  // Piece sizes; every piece keeps at least one step once K >= 3.
  int64_t n1 = std::llround(k / 29.0), n2 = std::llround(8.0 * k / 29.0);
  if (k >= 3) {
    n1 = std::max<int64_t>(n1, 1);
    n2 = std::max<int64_t>(n2, 1);
  } else {
    n1 = 0;
    n2 = 0;
  }
  const int64_t n3 = k - n1 - n2;
  std::vector<double> beta;
  beta.reserve(static_cast<size_t>(k + 1));
  beta.push_back(0.0);
  auto piece = [&beta](double from, double to, int64_t steps) {
    for (int64_t i = 1; i <= steps; ++i) beta.push_back(from + (to - from) * i / steps);
  };
  if (n1 + n2 == 0) {
    piece(0.0, 1.0, n3);
  } else {
    piece(0.0, 0.5, n1);
    piece(0.5, 0.9, n2);
    piece(0.9, 1.0, n3);
  }
  beta.back() = 1.0;
  return beta;
}

namespace {

// The inverse of the unit's mean function by bisection (f is increasing), in float64.
double inverse_mean(const kernels::UnitSpec& spec, double target) {
  double lo = -1.0, hi = 1.0;
  while (kernels::unit_values_reference<double>(spec, lo).mean > target) lo *= 2.0;
  while (kernels::unit_values_reference<double>(spec, hi).mean < target) hi *= 2.0;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, std::fabs(lo)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (kernels::unit_values_reference<double>(spec, mid).mean < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Shape with_rows(Shape shape, int64_t rows) {
  shape.insert(shape.begin(), rows);
  return shape;
}

// A chains x units view of a batch tensor (a conv layer's [M, C, H, W] as [M, C*H*W]).
Variable flat(const Variable& x) {
  return Variable(x.value().reshape({x.value().size(0), -1}));
}

}  // namespace

BaseRateModel base_rate_model(const RbmLayer& layer, const Tensor& data) {
  const int64_t nv = shape_numel(layer.visible_shape());
  MRBM_CHECK(data.dim() >= 1 && data.numel() == data.size(0) * nv && data.size(0) > 0,
             "base rate of " << layer.name() << ": data " << data.describe()
                             << " do not match the visible shape " << shape_to_string(layer.visible_shape()));
  const std::vector<float> v = data.to(Device::cpu()).to_vector<float>();
  const int64_t b = data.size(0);
  const kernels::UnitSpec spec = layer.visible_unit().spec();
  const double n = layer.visible_unit().max_value();
  std::vector<double> sum(static_cast<size_t>(nv), 0.0);
  for (int64_t r = 0; r < b; ++r) {
    for (int64_t i = 0; i < nv; ++i) sum[static_cast<size_t>(i)] += v[static_cast<size_t>(r * nv + i)];
  }
  std::vector<float> bias(static_cast<size_t>(nv));
  BaseRateModel model;
  model.log_z = 0;
  for (int64_t i = 0; i < nv; ++i) {
    const double mean = n * (sum[static_cast<size_t>(i)] / n + 0.5) / (static_cast<double>(b) + 1.0);
    bias[static_cast<size_t>(i)] = static_cast<float>(inverse_mean(spec, mean));
    model.log_z += kernels::unit_values_reference<double>(spec, bias[static_cast<size_t>(i)]).phi;
  }
  const kernels::UnitSpec hidden = layer.hidden_unit().spec();
  model.log_z += static_cast<double>(shape_numel(layer.hidden_shape())) *
                 kernels::unit_values_reference<double>(hidden, 0.0).phi;
  model.visible_bias = Tensor::from_vector(bias);
  return model;
}

AisEstimate summarize_log_weights(std::vector<double> log_weights) {
  AisEstimate e;
  const int64_t m = static_cast<int64_t>(log_weights.size());
  MRBM_CHECK(m >= 1, "AIS: no chains");
  const double top = *std::max_element(log_weights.begin(), log_weights.end());
  // r_m = w_m / max w: mean(r) and var(r) without overflow, in float64.
  double s1 = 0, s2 = 0;
  for (double lw : log_weights) {
    const double r = std::exp(lw - top);
    s1 += r;
    s2 += r * r;
  }
  const double mean = s1 / m;
  e.log_z = top + std::log(mean);
  e.effective_chains = s1 * s1 / s2;
  if (m >= 2) {
    const double var = std::max(0.0, (s2 - m * mean * mean) / (m - 1));
    e.std_error = std::sqrt(var / m) / mean;
  } else {
    e.std_error = std::numeric_limits<double>::infinity();
  }
  e.chains = m;
  e.log_weights = std::move(log_weights);
  return e;
}

AisEstimate ais_log_partition(const RbmLayer& layer, Tape& tape, const BaseRateModel& base,
                              const AisOptions& options, const AisProgress& progress) {
  require_exact_sampler(layer.visible_unit(), layer.name() + "'s visible unit");
  require_exact_sampler(layer.hidden_unit(), layer.name() + "'s hidden unit");
  MRBM_CHECK(options.chains >= 1, "AIS needs at least one chain, got " << options.chains);
  const int64_t nv = shape_numel(layer.visible_shape());
  MRBM_CHECK(base.visible_bias.defined() && base.visible_bias.numel() == nv,
             "AIS: the base-rate model has " << base.visible_bias.numel() << " visible biases for "
                                             << nv << " visible elements");
  const std::vector<double> beta = ais_schedule(options.temperatures);
  const int64_t k_max = options.temperatures;
  const int64_t m = options.chains;
  const Stream stream = tape.stream();

  NoGradGuard no_grad;
  const DeviceUnit visible(layer.visible_unit(), layer.device(), stream);
  const DeviceUnit hidden(layer.hidden_unit(), layer.device(), stream);
  const Variable base_bias(base.visible_bias.to(layer.device(), stream));
  const auto exact = [&options](uint32_t offset) {
    return autodiff::SampleRequest{kernels::Sampler::kExact, options.seed, offset};
  };
  const Shape v_shape = with_rows(layer.visible_shape(), m);

  // v_1 ~ A: the visible unit at pre-activation a_A, independently per element.
  Variable v(Tensor::zeros(v_shape, DType::kFloat32, layer.device(), stream));
  {
    const Variable pre = autodiff::add_bias(tape, v, base_bias, 1);
    v = Variable(autodiff::multinary(tape, pre, visible.spec(), false, false, exact(0)).sample);
  }

  std::vector<double> log_w(static_cast<size_t>(m), 0.0);
  for (int64_t k = 1; k <= k_max; ++k) {
    const double b_now = beta[static_cast<size_t>(k)], b_prev = beta[static_cast<size_t>(k - 1)];
    const Variable x = layer.hidden_pre(tape, v);
    // log p*_beta_k(v_k) - log p*_beta_{k-1}(v_k) = (b_now - b_prev)(a.v - a_A.v)
    //                                              + sum_j [Phi(b_now x_j) - Phi(b_prev x_j)]
    const bool last = k == k_max;
    const autodiff::MultinaryOutputs now = autodiff::multinary(
        tape, autodiff::scale(tape, x, b_now), hidden.spec(), false, true,
        last ? autodiff::SampleRequest{} : exact(static_cast<uint32_t>(2 * k - 1)));
    const std::vector<double> phi_now = now.row_phi.value().to_vector<double>(stream);
    const std::vector<double> phi_prev =
        b_prev == 0.0 ? std::vector<double>(static_cast<size_t>(m),
                                            static_cast<double>(x.value().numel() / m) *
                                                kernels::unit_values_reference<double>(hidden.spec(), 0.0).phi)
                      : autodiff::multinary_row_phi(tape, autodiff::scale(tape, x, b_prev), hidden.spec())
                            .value()
                            .to_vector<double>(stream);
    const std::vector<double> av = layer.visible_term(tape, v).value().to_vector<double>(stream);
    const std::vector<double> aav =
        autodiff::row_dot(tape, flat(v), base_bias, 1).value().to_vector<double>(stream);
    for (int64_t r = 0; r < m; ++r) {
      const size_t i = static_cast<size_t>(r);
      log_w[i] += (b_now - b_prev) * (av[i] - aav[i]) + (phi_now[i] - phi_prev[i]);
    }
    if (!last) {
      // v_{k+1} ~ visible unit at beta_k y + (1 - beta_k) a_A, y = a + h W^T.
      const Variable h(now.sample);
      const Variable y = autodiff::scale(tape, layer.visible_pre(tape, h), b_now);
      const Variable pre = autodiff::add_bias(tape, y, autodiff::scale(tape, base_bias, 1.0 - b_now), 1);
      v = Variable(autodiff::multinary(tape, pre, visible.spec(), false, false,
                                       exact(static_cast<uint32_t>(2 * k)))
                       .sample);
    }
    if (progress) progress(k, k_max);
  }
  AisEstimate e = summarize_log_weights(std::move(log_w));
  e.log_z_base = base.log_z;
  e.log_z += base.log_z;
  e.temperatures = k_max;
  e.seed = options.seed;
  return e;
}

std::vector<double> log_likelihood(const RbmLayer& layer, Tape& tape, const Tensor& v, double log_z) {
  require_exact_sampler(layer.visible_unit(), layer.name() + "'s visible unit");
  const int64_t nv = shape_numel(layer.visible_shape());
  MRBM_CHECK(v.dim() >= 1 && v.numel() == v.size(0) * nv,
             "log-likelihood: data " << v.describe() << " do not match the visible shape "
                                     << shape_to_string(layer.visible_shape()));
  const UnitStates states = unit_states(layer.visible_unit());
  const double spacing = states.values.size() > 1 ? states.values[1] - states.values[0] : 1.0;
  const std::vector<float> host = v.to(Device::cpu(), tape.stream()).to_vector<float>();
  const int64_t b = v.size(0);
  std::vector<double> out(static_cast<size_t>(b), -log_z);
  for (int64_t r = 0; r < b; ++r) {
    for (int64_t i = 0; i < nv; ++i) {
      const float value = host[static_cast<size_t>(r * nv + i)];
      const int64_t s = state_index(states, value, 0.01 * spacing);
      MRBM_CHECK(s >= 0, "log-likelihood: value " << value << " of sample " << r << ", element " << i
                             << " is not a state of the " << unit_kind_name(layer.visible_unit().kind)
                             << " visible unit (binarize grey levels for a binary unit)");
      out[static_cast<size_t>(r)] += states.log_base[static_cast<size_t>(s)];
    }
  }
  NoGradGuard no_grad;
  const std::vector<double> f =
      layer.free_energy(tape, Variable(v.to(layer.device(), tape.stream()).reshape(with_rows(layer.visible_shape(), b))))
          .value()
          .to_vector<double>(tape.stream());
  for (int64_t r = 0; r < b; ++r) out[static_cast<size_t>(r)] -= f[static_cast<size_t>(r)];
  return out;
}

Tensor binarize(const Tensor& v, uint64_t seed, int64_t first_element) {
  std::vector<float> host = v.to(Device::cpu()).to_vector<float>();
  for (size_t i = 0; i < host.size(); ++i) {
    kernels::PhiloxStream rng(seed, static_cast<uint64_t>(first_element) + i, 0x5eedb17u);
    host[i] = static_cast<float>(kernels::sample_bernoulli(rng, host[i]));
  }
  return Tensor::from_vector(host, v.shape()).to(v.device());
}

}  // namespace mrbm::layers
