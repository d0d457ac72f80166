// RbmLayer: what a dense and a convolutional RBM share (docs/math.md sections 1-4, 9): the free
// energy, the Gibbs step and the contrastive loss, written once over three layer-specific maps:
//
//   hidden_pre(v)   x = b + v W          (conv: conv2d(v, W) + b per channel)
//   visible_pre(h)  y = a + h W^T        (conv: conv_transpose2d(h, W) + a per channel)
//   visible_term(v) a . v per sample     (conv: sum_c a_c sum_p v_cp)
//
//   F(v) = -visible_term(v) - sum_j Phi(x_j)                              (float64 per sample)
//   one Gibbs step: h ~ sampler(x) (no gradient), v' = f_v(y(h)) (the mean reconstruction)
//   L = mean_n F(v_n) - mean_m F(sg(v'_m))       (sg dropped when stop_gradient is false)
// The negative chain runs k Gibbs steps from the batch (CD-k) or from a given start (persistent or
// noise chains, m = 1..M with M independent of the batch size); see layers/model_spec.h.
//
// Parameters are float32 Variables on the layer's device: W, a (visible bias), b (hidden bias).
// Activations are [B, ...] tensors whose first dimension is the sample.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autodiff/tape.h"
#include "autodiff/variable.h"
#include "layers/unit_config.h"

namespace mrbm::layers {

struct LayerOptions {
  kernels::Sampler sampler = kernels::Sampler::kGaussian;  // the hidden sample of the Gibbs step
  bool stop_gradient = true;                               // sg(v') in the loss
};

// What one contrastive step returns.
struct ContrastiveStep {
  autodiff::Variable loss;         // [] float64: mean over the batch of F(v) - F(v')
  autodiff::Variable hidden_mean;  // f(x): the next layer's input (carries gradient)
  Tensor reconstruction;           // the input's shape, no gradient: v' for CD; for chains from a
                                   // start, the mean-field reconstruction f_v(y(f_h(x)))
  Tensor free_energy;              // F(v) per sample, float64 [B]
  Tensor chain_end;                // v' [M, ...]: where the negative chain stopped
};

// Where the negative chain of contrastive_step starts: the batch (start == nullptr) or the given
// visible states [M, visible_shape...], and how many Gibbs steps it runs.
struct NegativeChain {
  const Tensor* start = nullptr;
  int64_t steps = 1;
};

// The seed of Gibbs step t >= 1 of a chain whose first step draws from `seed`: every step of a
// chain gets its own Philox key, so chains of any length never reuse a draw. Step 0 keeps `seed`
// (CD-1 draws exactly what it always drew).
uint64_t gibbs_step_seed(uint64_t seed, int64_t t);

class RbmLayer {
 public:
  RbmLayer(std::string name, const UnitConfig& visible, const UnitConfig& hidden,
           const LayerOptions& options);
  virtual ~RbmLayer() = default;
  RbmLayer(const RbmLayer&) = delete;
  RbmLayer& operator=(const RbmLayer&) = delete;

  const std::string& name() const { return name_; }
  // Per-sample shapes: e.g. [1, 28, 28] -> [64, 14, 14] for a conv layer, [784] -> [500] dense.
  virtual Shape visible_shape() const = 0;
  virtual Shape hidden_shape() const = 0;
  // "conv" or "dense"
  virtual const char* type() const = 0;

  virtual autodiff::Variable hidden_pre(autodiff::Tape& tape, const autodiff::Variable& v) const = 0;
  virtual autodiff::Variable visible_pre(autodiff::Tape& tape, const autodiff::Variable& h) const = 0;
  virtual autodiff::Variable visible_term(autodiff::Tape& tape,
                                          const autodiff::Variable& v) const = 0;

  // W, a, b (named "<layer>.W", "<layer>.a", "<layer>.b").
  std::vector<autodiff::Variable> parameters() const { return {w_, a_, b_}; }
  const autodiff::Variable& weights() const { return w_; }
  const autodiff::Variable& visible_bias() const { return a_; }
  const autodiff::Variable& hidden_bias() const { return b_; }

  const UnitConfig& visible_unit() const { return visible_.config(); }
  const UnitConfig& hidden_unit() const { return hidden_.config(); }
  const LayerOptions& options() const { return options_; }
  Device device() const { return w_.value().device(); }

  // F(v) per sample (float64 [B]).
  autodiff::Variable free_energy(autodiff::Tape& tape, const autodiff::Variable& v) const;
  // The contrastive loss of v against the end of the negative chain; samples drawn from
  // (gibbs_step_seed(seed, t), offset) for step t.
  ContrastiveStep contrastive_step(autodiff::Tape& tape, const autodiff::Variable& v,
                                   uint64_t seed, uint32_t offset,
                                   const NegativeChain& chain = {}) const;
  // No-gradient helpers for sampling and evaluation. `beta` is an inverse temperature for
  // generation: the pre-activation is multiplied by beta, i.e. the same unit in the RBM with
  // parameters beta (W, a, b) (for binary units exactly p(v, h)^beta; a multinary unit's offsets
  // stay fixed). beta = 1 (the default) is the model itself and adds no operation.
  Tensor hidden_mean(autodiff::Tape& tape, const Tensor& v) const;
  Tensor hidden_sample(autodiff::Tape& tape, const Tensor& v, kernels::Sampler sampler,
                       uint64_t seed, uint32_t offset, double beta = 1.0) const;
  Tensor visible_mean(autodiff::Tape& tape, const Tensor& h, double beta = 1.0) const;
  // v ~ sampler(y(h)) instead of its mean (the visible unit drawn like a hidden one).
  Tensor visible_sample(autodiff::Tape& tape, const Tensor& h, kernels::Sampler sampler,
                        uint64_t seed, uint32_t offset, double beta = 1.0) const;

 protected:
  // Creates W (init ~ N(0, std^2) from the counter-based generator), a = 0, b = 0 on `device`.
  void init_parameters(const Shape& w_shape, int64_t visible_channels, int64_t hidden_channels,
                       double init_std, uint64_t seed, Device device, Stream stream);

  std::string name_;
  DeviceUnit visible_, hidden_;
  UnitConfig visible_config_, hidden_config_;
  LayerOptions options_;
  autodiff::Variable w_, a_, b_;
};

// The default weight scale: pre-activations of typical magnitude s_hidden / 2 for inputs of rms
// N_visible / 2 (binary: 0.5) and fan-in `fan_in`: std = s_h / (2 * rms_v * sqrt(fan_in)).
double default_init_std(const UnitConfig& visible, const UnitConfig& hidden, int64_t fan_in);

}  // namespace mrbm::layers
