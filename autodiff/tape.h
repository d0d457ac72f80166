// Tape: the record of one differentiable computation, swept in reverse by backward().
//
// Ops append one entry per output that requires a gradient: a closure that reads the output's
// gradient and accumulates (+=) into its inputs' gradients, holding the tensors it saved from the
// forward pass. Entries are appended in execution order, so the reverse of the tape is a valid
// topological order: no graph search is needed. backward(loss) seeds d loss / d loss = 1, runs
// every entry once from the last to the first, then clears the tape, which releases every saved
// tensor and intermediate gradient (only the leaves' gradients survive). One tape per training
// step; a cleared tape is reused.
//
// The tape also carries where ops run: the device, and for CUDA the CudaContext whose stream,
// cuBLAS/cuDNN handles and workspace every op uses. Nothing is recorded while a NoGradGuard is
// alive on this thread, or after set_recording(false).
#pragma once

#include <functional>
#include <vector>

#include "autodiff/variable.h"
#include "core/cuda_context.h"
#include "core/device.h"

namespace mrbm::autodiff {

class Tape {
 public:
  // CPU tape.
  Tape() = default;
  // CUDA tape: ops run on cuda's device and stream. `cuda` must outlive the tape.
  explicit Tape(CudaContext* cuda);

  Device device() const { return cuda_ ? cuda_->device() : Device::cpu(); }
  Stream stream() const { return cuda_ ? cuda_->stream() : nullptr; }
  CudaContext& cuda() const;  // throws when this is a CPU tape

  // True when ops should record: the tape is enabled and no NoGradGuard is active.
  bool recording() const;
  void set_recording(bool on) { enabled_ = on; }

  // Appends a backward closure (called only when the op's output requires a gradient).
  void record(std::function<void()> backward);
  // Reverse sweep from `loss` (one element), then clear(). Throws when loss is not part of the
  // recorded computation (it does not require a gradient).
  void backward(Variable loss);
  // Drops every entry and the tensors they hold.
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  CudaContext* cuda_ = nullptr;
  bool enabled_ = true;
  std::vector<std::function<void()>> entries_;
};

// While alive, no tape on this thread records (inference, sampling, the stop-gradient paths).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

bool grad_mode_enabled();

}  // namespace mrbm::autodiff
