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

ContrastiveStep RbmLayer::contrastive_step(Tape& tape, const Variable& v, uint64_t seed,
                                           uint32_t offset) const {
  // Positive phase and the hidden sample in one pass over x.
  const Variable x = hidden_pre(tape, v);
  autodiff::SampleRequest request{options_.sampler, seed, offset};
  const autodiff::MultinaryOutputs up = autodiff::multinary(tape, x, hidden_.spec(), true, true, request);
  const Variable free_energy_v =
      autodiff::scale(tape, autodiff::add(tape, visible_term(tape, v), up.row_phi), -1.0);

  // Negative phase: the mean reconstruction v' = f_v(y(h)); a constant unless sg is switched off.
  Variable v_neg;
  const Variable h(up.sample);
  if (options_.stop_gradient) {
    NoGradGuard no_grad;
    v_neg = Variable(autodiff::multinary_mean(tape, visible_pre(tape, h), visible_.spec()).value());
  } else {
    v_neg = autodiff::multinary_mean(tape, visible_pre(tape, h), visible_.spec());
  }
  const Variable phi_neg = autodiff::multinary_row_phi(tape, hidden_pre(tape, v_neg), hidden_.spec());
  const Variable free_energy_neg =
      autodiff::scale(tape, autodiff::add(tape, visible_term(tape, v_neg), phi_neg), -1.0);

  ContrastiveStep step;
  step.loss = autodiff::mean(tape, autodiff::sub(tape, free_energy_v, free_energy_neg));
  step.hidden_mean = up.mean;
  step.reconstruction = v_neg.value();
  step.free_energy = free_energy_v.value();
  return step;
}

Tensor RbmLayer::hidden_mean(Tape& tape, const Tensor& v) const {
  NoGradGuard no_grad;
  return autodiff::multinary_mean(tape, hidden_pre(tape, Variable(v)), hidden_.spec()).value();
}

Tensor RbmLayer::hidden_sample(Tape& tape, const Tensor& v, kernels::Sampler sampler,
                               uint64_t seed, uint32_t offset) const {
  NoGradGuard no_grad;
  autodiff::SampleRequest request{sampler, seed, offset};
  return autodiff::multinary(tape, hidden_pre(tape, Variable(v)), hidden_.spec(), false, false,
                             request)
      .sample;
}

Tensor RbmLayer::visible_mean(Tape& tape, const Tensor& h) const {
  NoGradGuard no_grad;
  return autodiff::multinary_mean(tape, visible_pre(tape, Variable(h)), visible_.spec()).value();
}

}  // namespace mrbm::layers
