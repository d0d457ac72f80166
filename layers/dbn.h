// Dbn: a deep belief network of conv RBMs followed by dense RBMs (docs/math.md section 5).
//
// Training loss: L = sum_l L_l, each L_l the contrastive loss of layer l on its input v^(l):
// v^(1) = the data scaled to the input unit's range (raw 0..255 pixels -> 0..N), v^(l+1) = f_l(x^(l))
// the hidden mean of the layer below (flattened once before the first dense layer). By default the
// gradients of L_(l+1) flow into layer l through v^(l+1) (joint training); spec.joint = false
// detaches them (simultaneous greedy training).
//
// Sampling streams: layer l of training step t draws from (seed, offset = t * 64 + l), so each
// layer of each step gets its own counter range and a resumed run repeats the same samples; Gibbs
// step k of a chain uses gibbs_step_seed(seed, k) (layers/rbm_layer.h), its noise start
// gibbs_step_seed(seed, kNoiseStep).
//
// Negative phases (spec.negative, layers/model_spec.h): the chains of persistent models are the
// Dbn's state (chains(), one [M, visible...] tensor per layer, started from noise on the first
// step); a Trainer commits DbnLoss::chain_ends after each step and checkpoints carry them.
//
// Generation: Gibbs sampling in the top RBM (hidden sample, then the visible mean) for S steps,
// from the up pass of uniform noise images or of given images, then the top-down pass of means
// v^(l) = f_v(a^(l) + h W^(l)T) (conv_transpose for conv layers) down to the image.
#pragma once

#include <memory>
#include <vector>

#include "autodiff/tape.h"
#include "layers/model_spec.h"
#include "layers/rbm_layer.h"

namespace mrbm::layers {

struct DbnLoss {
  autodiff::Variable total;               // [] float64, the sum of the layers' losses
  std::vector<autodiff::Variable> layers;  // each layer's loss
  Tensor reconstruction;                   // layer 0's v' (input range 0..N), [B, C, H, W]
  Tensor free_energy;                      // layer 0's F(v) per sample
  std::vector<Tensor> chain_ends;          // persistent chains: each layer's chains after the step
};

// How generation runs the Gibbs chain in the top RBM (`mrbm sample`'s options, docs/cli.md).
// Step s draws h ~ sampler(beta_s x(v)) from (seed, offset s), then v = f_v(beta_s y(h)), or with
// visible_samples v ~ sampler(beta_s y(h)) from (gibbs_step_seed(seed, kNoiseStep + 1), offset s);
// the last step always ends on the visible mean, the image an RBM sample is shown as.
// Annealing: beta_s = beta_start + (1 - beta_start) (s + 1) / steps rises linearly to 1.
struct GibbsOptions {
  int64_t steps = 1000;
  bool visible_samples = false;
  double beta_start = 1.0;  // in (0, 1]; 1: no annealing
};

class Dbn {
 public:
  // Parameters initialized from `seed` on `device`; `cuda` is required for a CUDA device and must
  // outlive the Dbn.
  Dbn(const ModelSpec& spec, Device device, CudaContext* cuda, uint64_t seed);

  const ModelSpec& spec() const { return spec_; }
  Device device() const { return device_; }
  CudaContext* cuda() const { return cuda_; }
  Stream stream() const;
  // A tape for this model's device.
  autodiff::Tape make_tape() const;

  size_t num_layers() const { return layers_.size(); }
  const RbmLayer& layer(size_t i) const { return *layers_.at(i); }
  std::vector<autodiff::Variable> parameters() const;
  int64_t parameter_count() const;

  // Raw images [B, C, H, W] with values 0..255 (any device, float32) -> the input unit's range on
  // this model's device.
  Tensor prepare_input(const Tensor& images) const;
  // The inverse: values 0..N of layer 0's visible unit -> 0..255 (on the host, float32).
  Tensor to_pixels(const Tensor& v) const;

  // The summed contrastive loss of one training step (input from prepare_input).
  DbnLoss loss(autodiff::Tape& tape, const Tensor& input, uint64_t seed, uint64_t step) const;

  // Up `depth` layers by hidden means, then down by visible means (no gradient).
  Tensor reconstruct(const Tensor& input, size_t depth) const;
  // The hidden means of layer `layer` (0-based), [B, ...].
  Tensor features(const Tensor& input, size_t layer) const;
  // Layer 0's free energy per sample (float64 [B]).
  Tensor free_energy(const Tensor& input) const;
  // `count` images (input range) by Gibbs sampling in the top RBM, from noise or from `start`
  // (images, whose up pass starts the chains).
  Tensor generate(int64_t count, int64_t gibbs_steps, uint64_t seed, const Tensor* start) const;
  // The same from the top RBM's visible states `top_start` [count, visible...] (e.g. the top
  // layer's persistent chains).
  Tensor generate_from_top(const Tensor& top_start, int64_t gibbs_steps, uint64_t seed) const;
  // Both with the chain's options (the two above: visible means, no annealing).
  Tensor generate(int64_t count, const GibbsOptions& gibbs, uint64_t seed, const Tensor* start) const;
  Tensor generate_from_top(const Tensor& top_start, const GibbsOptions& gibbs, uint64_t seed) const;
  // The top RBM's visible start of generate(): the up pass of `start` (images), or noise.
  Tensor top_start(int64_t count, uint64_t seed, const Tensor* start) const;

  // Noise in layer l's visible space, [count, visible...] on this model's device: uniform noise
  // images over the input unit's range, passed up through layers 0..l-1 by hidden means. A
  // function of (seed, offset, element index) only.
  Tensor visible_noise(size_t l, int64_t count, uint64_t seed, uint32_t offset) const;

  // Persistent chains (empty unless set by training or a checkpoint).
  const std::vector<Tensor>& chains() const { return chains_; }
  // Checked against the layers' visible shapes (one tensor per layer, or none).
  void set_chains(std::vector<Tensor> chains);

 private:
  Tensor up(autodiff::Tape& tape, const Tensor& v, size_t layer) const;    // hidden mean, reshaped
  Tensor down(autodiff::Tape& tape, const Tensor& h, size_t layer) const;  // visible mean, reshaped

  ModelSpec spec_;
  Device device_;
  CudaContext* cuda_;
  std::vector<std::unique_ptr<RbmLayer>> layers_;
  std::vector<Tensor> chains_;
};

// The Gibbs step index whose seed (gibbs_step_seed) draws the noise start of a chain.
constexpr int64_t kNoiseStep = int64_t{1} << 40;

}  // namespace mrbm::layers
