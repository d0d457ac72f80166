// RbmLayer (layers/rbm_layer.h).
#include "layers/rbm_layer.h"

#include <cmath>

#include "autodiff/ops_elementwise.h"
#include "autodiff/ops_multinary.h"
#include "autodiff/ops_reduce.h"
#include "kernels/multinary_sample.h"
#include "kernels/philox.h"

namespace mrbm::layers {

using autodiff::NoGradGuard;
using autodiff::Tape;
using autodiff::Variable;

RbmLayer::RbmLayer(std::string name, const UnitConfig& visible, const UnitConfig& hidden,
                   const LayerOptions& options)
    : name_(std::move(name)),
      visible_config_(visible),
      hidden_config_(hidden),
      options_(options) {
  MRBM_CHECK(options.sampler != kernels::Sampler::kNone, name_ << ": a sampler is required");
  if (options.sampler == kernels::Sampler::kExact) {
    const kernels::UnitSpec h = hidden.spec();
    MRBM_CHECK(h.kind != kernels::UnitKind::kClosedForm || kernels::closed_form_copy_count(h) >= 0,
               name_ << ": the exact sampler of a closed-form unit needs N * scale to be an integer "
                        "(N = " << h.n << ", scale = " << h.scale << "); use another scale or the "
                        "gaussian sampler");
  }
}

double default_init_std(const UnitConfig& visible, const UnitConfig& hidden, int64_t fan_in) {
  const double rms_v = visible.max_value() / 2.0;
  return hidden.activation_scale() / (2.0 * rms_v * std::sqrt(static_cast<double>(fan_in)));
}

void RbmLayer::init_parameters(const Shape& w_shape, int64_t visible_channels,
                               int64_t hidden_channels, double init_std, uint64_t seed,
                               Device device, Stream stream) {
  const int64_t n = shape_numel(w_shape);
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    kernels::PhiloxStream rng(seed, static_cast<uint64_t>(i), 0xFFFFFFFFu);
    w[static_cast<size_t>(i)] = static_cast<float>(init_std) * rng.normal();
  }
  w_ = Variable(Tensor::from_vector(w, w_shape).to(device, stream), true, name_ + ".W");
  a_ = Variable(Tensor::zeros({visible_channels}, DType::kFloat32, device, stream), true, name_ + ".a");
  b_ = Variable(Tensor::zeros({hidden_channels}, DType::kFloat32, device, stream), true, name_ + ".b");
  visible_ = DeviceUnit(visible_config_, device, stream);
  hidden_ = DeviceUnit(hidden_config_, device, stream);
}

Variable RbmLayer::free_energy(Tape& tape, const Variable& v) const {
  const Variable phi = autodiff::multinary_row_phi(tape, hidden_pre(tape, v), hidden_.spec());
  return autodiff::scale(tape, autodiff::add(tape, visible_term(tape, v), phi), -1.0);
}

uint64_t gibbs_step_seed(uint64_t seed, int64_t t) {
  if (t == 0) return seed;
  // splitmix64's finalizer of (seed, t): distinct keys for distinct steps, far from seed + t.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(t);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

ContrastiveStep RbmLayer::contrastive_step(Tape& tape, const Variable& v, uint64_t seed,
                                           uint32_t offset, const NegativeChain& chain) const {
  MRBM_CHECK(chain.steps >= 1, name_ << ": the negative chain needs at least one Gibbs step");
  // Positive phase, and for CD the chain's first hidden sample, in one pass over x.
  const Variable x = hidden_pre(tape, v);
  const bool from_data = chain.start == nullptr;
  autodiff::SampleRequest request{from_data ? options_.sampler : kernels::Sampler::kNone, seed,
                                  offset};
  const autodiff::MultinaryOutputs up =
      autodiff::multinary(tape, x, hidden_.spec(), true, true, request);
  const Variable free_energy_v =
      autodiff::scale(tape, autodiff::add(tape, visible_term(tape, v), up.row_phi), -1.0);

  // Negative phase: k Gibbs steps (hidden sample, visible mean); v' = f_v(y(h_k)) is a constant
  // unless sg is switched off (then only its last step carries the gradient).
  Tensor h = from_data ? up.sample
                       : hidden_sample(tape, *chain.start, options_.sampler, seed, offset);
  for (int64_t t = 1; t < chain.steps; ++t) {
    h = hidden_sample(tape, visible_mean(tape, h), options_.sampler, gibbs_step_seed(seed, t),
                      offset);
  }
  Variable v_neg;
  if (options_.stop_gradient) {
    v_neg = Variable(visible_mean(tape, h));
  } else {
    v_neg = autodiff::multinary_mean(tape, visible_pre(tape, Variable(h)), visible_.spec());
  }
  const Variable phi_neg = autodiff::multinary_row_phi(tape, hidden_pre(tape, v_neg), hidden_.spec());
  const Variable free_energy_neg =
      autodiff::scale(tape, autodiff::add(tape, visible_term(tape, v_neg), phi_neg), -1.0);

  ContrastiveStep step;
  // mean F(v) - mean F(v'): the batch and the chains may differ in number.
  step.loss = from_data ? autodiff::mean(tape, autodiff::sub(tape, free_energy_v, free_energy_neg))
                        : autodiff::sub(tape, autodiff::mean(tape, free_energy_v),
                                        autodiff::mean(tape, free_energy_neg));
  step.hidden_mean = up.mean;
  step.chain_end = v_neg.value();
  step.reconstruction = from_data ? step.chain_end : visible_mean(tape, up.mean.value());
  step.free_energy = free_energy_v.value();
  return step;
}

Tensor RbmLayer::hidden_mean(Tape& tape, const Tensor& v) const {
  NoGradGuard no_grad;
  return autodiff::multinary_mean(tape, hidden_pre(tape, Variable(v)), hidden_.spec()).value();
}

namespace {
Variable tempered(Tape& tape, const Variable& pre, double beta) {
  return beta == 1.0 ? pre : autodiff::scale(tape, pre, beta);
}
// A sample of `unit` at the tempered pre-activation (the hidden and the visible draw alike).
Tensor sample_at(Tape& tape, const Variable& pre, const kernels::UnitSpec& unit,
                 kernels::Sampler sampler, uint64_t seed, uint32_t offset, double beta) {
  autodiff::SampleRequest request{sampler, seed, offset};
  return autodiff::multinary(tape, tempered(tape, pre, beta), unit, false, false, request).sample;
}
}  // namespace

Tensor RbmLayer::hidden_sample(Tape& tape, const Tensor& v, kernels::Sampler sampler,
                               uint64_t seed, uint32_t offset, double beta) const {
  NoGradGuard no_grad;
  return sample_at(tape, hidden_pre(tape, Variable(v)), hidden_.spec(), sampler, seed, offset, beta);
}

Tensor RbmLayer::visible_mean(Tape& tape, const Tensor& h, double beta) const {
  NoGradGuard no_grad;
  return autodiff::multinary_mean(tape, tempered(tape, visible_pre(tape, Variable(h)), beta),
                                  visible_.spec())
      .value();
}

Tensor RbmLayer::visible_sample(Tape& tape, const Tensor& h, kernels::Sampler sampler,
                                uint64_t seed, uint32_t offset, double beta) const {
  NoGradGuard no_grad;
  return sample_at(tape, visible_pre(tape, Variable(h)), visible_.spec(), sampler, seed, offset, beta);
}

}  // namespace mrbm::layers
