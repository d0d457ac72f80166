// CUDA simulator: the context switch of the block runner's fibers (one per CUDA thread). On x86-64
// a few instructions save and restore the callee-saved registers and the stack pointer: no system
// call (swapcontext saves the signal mask with one) and no sanitizer interceptor (AddressSanitizer
// clears the whole stack's shadow on every swapcontext). Elsewhere, ucontext.
#pragma once

#include <cstddef>

namespace cuda_sim::detail {

struct FiberContext {
  void* sp = nullptr;  // the saved stack pointer (x86-64)
  void* impl = nullptr;  // ucontext_t* elsewhere
};

// Prepares `fiber` to start `entry` (which must never return) on [stack, stack + bytes).
void fiber_prepare(FiberContext& fiber, void* stack, size_t bytes, void (*entry)());
// Saves the current context into `from` and resumes `to`.
void fiber_switch(FiberContext& from, FiberContext& to);

}  // namespace cuda_sim::detail
