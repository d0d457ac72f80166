// Tape and NoGradGuard (autodiff/tape.h).
#include "autodiff/tape.h"

#include <utility>

namespace mrbm::autodiff {
namespace {
thread_local bool t_grad_mode = true;
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }

NoGradGuard::NoGradGuard() : previous_(t_grad_mode) { t_grad_mode = false; }
NoGradGuard::~NoGradGuard() { t_grad_mode = previous_; }

Tape::Tape(CudaContext* cuda) : cuda_(cuda) {
  MRBM_CHECK(cuda != nullptr, "a CUDA tape needs a CudaContext");
}

CudaContext& Tape::cuda() const {
  MRBM_CHECK(cuda_ != nullptr, "this tape runs on the CPU; a CUDA op needs a CUDA tape");
  return *cuda_;
}

bool Tape::recording() const { return enabled_ && t_grad_mode; }

void Tape::record(std::function<void()> backward) { entries_.push_back(std::move(backward)); }

void Tape::backward(Variable loss) {
  MRBM_CHECK(loss.defined() && loss.value().numel() == 1,
             "backward needs a one-element loss, got "
                 << (loss.defined() ? loss.value().describe() : std::string("undefined")));
  MRBM_CHECK(loss.requires_grad(),
             "backward: the loss does not depend on any variable that requires a gradient");
  loss.grad_buffer(stream()).fill(1.0, stream());
  // Entries are popped as they run, so saved tensors are released as early as possible.
  while (!entries_.empty()) {
    std::function<void()> entry = std::move(entries_.back());
    entries_.pop_back();
    entry();
  }
}

}  // namespace mrbm::autodiff
