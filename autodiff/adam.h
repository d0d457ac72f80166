// Adam: the hand-rolled optimizer of mrbm, PyTorch's torch.optim.Adam (L2 weight decay, eps after
// the square root, bias correction; defaults lr 1e-3, betas 0.9/0.999, eps 1e-8), applied to a
// list of float32 Variables in one fused step (kernels/adam.h: one multi-tensor launch on CUDA, the
// same bit-identical formula on the CPU).
//
// Parameters without a gradient in a step are skipped (their moments are not decayed, as in
// PyTorch, where a parameter whose .grad is None is skipped). The state is the step count and, per
// parameter, the moments m and v; state() exposes it as named tensors so that checkpoints
// (safetensors) can save it, and load_state() restores it: a run resumed from a saved state
// continues bit-identically.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "autodiff/variable.h"
#include "core/cuda_context.h"
#include "kernels/adam.h"

namespace mrbm::autodiff {

class Adam {
 public:
  // `cuda` is required when the parameters live on a CUDA device and must outlive the optimizer.
  Adam(std::vector<Variable> params, const kernels::AdamHyper& hyper = {},
       CudaContext* cuda = nullptr);

  // One update from the parameters' current gradients; then clears the gradients.
  void step();
  int64_t steps() const { return step_; }
  const kernels::AdamHyper& hyper() const { return hyper_; }
  void set_lr(double lr);

  // "step" (float64 [1]), "<i>.m" and "<i>.v" (float32, the parameter's shape) for parameter i
  // (its name when it has one). The tensors live on the parameters' device.
  std::map<std::string, Tensor> state() const;
  // Restores a state() result; throws ShapeError/InvalidArgument naming the entry that does not fit.
  void load_state(const std::map<std::string, Tensor>& state);

 private:
  std::string key(size_t i) const;

  std::vector<Variable> params_;
  std::vector<Tensor> m_, v_;
  kernels::AdamHyper hyper_;
  CudaContext* cuda_;
  int64_t step_ = 0;
};

}  // namespace mrbm::autodiff
