// CUDA simulator: fiber context switch (fiber.h).
#include "fiber.h"

#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#if defined(__x86_64__)

// cuda_sim_fiber_switch(void** save_sp, void* new_sp): pushes the System V callee-saved registers
// and the SSE/x87 control words, stores rsp, loads the other stack, pops the same and returns into
// it.
asm(R"(
  .text
  .globl cuda_sim_fiber_switch
  .type cuda_sim_fiber_switch, @function
cuda_sim_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuda_sim_fiber_switch, .-cuda_sim_fiber_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");

extern "C" void cuda_sim_fiber_switch(void** save_sp, void* new_sp);

namespace cuda_sim::detail {

void fiber_prepare(FiberContext& fiber, void* stack, size_t bytes, void (*entry)()) {
  // From the 16-byte aligned top: a zero (a fake return address for `entry`), entry's address
  // (where the first switch returns to; at a 16-byte boundary, so that entry starts with
  // rsp = 8 mod 16, as if called), six registers, and the default control words (MXCSR 0x1f80,
  // x87 0x037f).
  auto top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t{15};
#if defined(__SANITIZE_ADDRESS__)
  // A reused stack may still carry red zones of frames that never returned (the previous entry's).
  __asan_unpoison_memory_region(reinterpret_cast<void*>(top - 8192), 8192);
#endif
  auto* slot = reinterpret_cast<uint64_t*>(top);
  *--slot = 0;
  *--slot = reinterpret_cast<uint64_t>(entry);
  for (int i = 0; i < 6; ++i) *--slot = 0;
  --slot;
  const uint32_t mxcsr = 0x1f80;
  const uint16_t fpcw = 0x037f;
  std::memcpy(reinterpret_cast<char*>(slot), &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(slot) + 4, &fpcw, 2);
  fiber.sp = slot;
}

void fiber_switch(FiberContext& from, FiberContext& to) { cuda_sim_fiber_switch(&from.sp, to.sp); }

}  // namespace cuda_sim::detail

#else

#include <ucontext.h>

namespace cuda_sim::detail {

static ucontext_t* context_of(FiberContext& f) {
  if (!f.impl) f.impl = new ucontext_t;
  return static_cast<ucontext_t*>(f.impl);
}

void fiber_prepare(FiberContext& fiber, void* stack, size_t bytes, void (*entry)()) {
  ucontext_t* c = context_of(fiber);
  getcontext(c);
  c->uc_stack.ss_sp = stack;
  c->uc_stack.ss_size = bytes;
  c->uc_link = nullptr;
  makecontext(c, entry, 0);
}

void fiber_switch(FiberContext& from, FiberContext& to) {
  swapcontext(context_of(from), context_of(to));
}

}  // namespace cuda_sim::detail

#endif
