// Small helpers shared by the differentiable ops (not part of the public API).
#pragma once

#include "autodiff/tape.h"
#include "core/tensor.h"

namespace mrbm::autodiff::detail {

// The CUDA context of a CUDA tape, nullptr for a CPU tape (core functions take it this way).
inline CudaContext* cuda_of(const Tape& tape) {
  return tape.device().is_cuda() ? &tape.cuda() : nullptr;
}

// Every input of an op must live where the tape runs.
inline void check_on_tape(const Tape& tape, const Tensor& t, const char* op) {
  MRBM_CHECK(t.device() == tape.device(),
             op << ": " << t.describe() << " on a tape for " << to_string(tape.device()));
}

// Whether an op with these inputs records a backward entry.
template <class... Vars>
bool should_record(const Tape& tape, const Vars&... inputs) {
  return tape.recording() && (inputs.requires_grad() || ...);
}

}  // namespace mrbm::autodiff::detail
