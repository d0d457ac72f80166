// Trainer: one optimizer step of a Dbn on a batch of raw images, with the metrics users watch.
//
//   loss      the summed contrastive loss (float64; it can be negative: only its gradient matters)
//   layers    each layer's loss
//   recon_mse layer 0's reconstruction error, mean squared error per value in pixel units (0..255)
//
// The optimizer is Adam over every parameter (autodiff/adam.h). The random streams of step t are
// (seed, t * 64 + layer), with t the optimizer's step count, so restoring a checkpoint's
// parameters and optimizer state reproduces the uninterrupted run bit for bit.
#pragma once

#include <vector>

#include "autodiff/adam.h"
#include "layers/dbn.h"

namespace mrbm::layers {

struct TrainOptions {
  double lr = 1e-3;
  double weight_decay = 0.0;
  uint64_t seed = 1;
};

struct StepMetrics {
  double loss = 0;
  std::vector<double> layer_losses;
  double recon_mse = 0;
};

class Trainer {
 public:
  Trainer(Dbn& dbn, const TrainOptions& options);

  // One step on raw images [B, C, H, W] (0..255, any device).
  StepMetrics step(const Tensor& images);
  int64_t steps() const { return adam_.steps(); }
  autodiff::Adam& adam() { return adam_; }
  const TrainOptions& options() const { return options_; }

 private:
  Dbn& dbn_;
  TrainOptions options_;
  autodiff::Adam adam_;
};

// Mean squared difference of two same-shaped float32 tensors, in units of `unit_to_pixels` (the
// factor from the model's input range to 0..255); computed on their device.
double mean_squared_error(const Tensor& a, const Tensor& b, double unit_to_pixels,
                          CudaContext* cuda);

}  // namespace mrbm::layers
