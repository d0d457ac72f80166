// CUDA simulator: the explicitly rounded intrinsics, each one IEEE operation. This file is
// compiled with -ffp-contract=off (and the functions stay out of line), so that no caller in a
// device translation unit, compiled with contraction on, can fuse them into an FMA: on the GPU
// __fmul_rn and __fadd_rn are never contracted.
//
// A float NaN result is the GPU's canonical NaN, 0x7fffffff (PTX: single-precision operations
// return the canonical NaN), where x86 gives 0xffc00000 (0/0) or propagates an input's payload:
// a test that compares raw bits of NaNs across devices fails here as it would on a GPU.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cuda_sim/device.h"

#define CUDA_SIM_OUT_OF_LINE __attribute__((noinline))

namespace {
float canonical(float r) {
  if (r == r) return r;
  const uint32_t bits = 0x7fffffffu;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}
}  // namespace

CUDA_SIM_OUT_OF_LINE float __fadd_rn(float a, float b) { return canonical(a + b); }
CUDA_SIM_OUT_OF_LINE float __fsub_rn(float a, float b) { return canonical(a - b); }
CUDA_SIM_OUT_OF_LINE float __fmul_rn(float a, float b) { return canonical(a * b); }
CUDA_SIM_OUT_OF_LINE float __fdiv_rn(float a, float b) { return canonical(a / b); }
CUDA_SIM_OUT_OF_LINE float __fsqrt_rn(float a) { return canonical(std::sqrt(a)); }
CUDA_SIM_OUT_OF_LINE float __fmaf_rn(float a, float b, float c) {
  return canonical(std::fma(a, b, c));
}
CUDA_SIM_OUT_OF_LINE double __dadd_rn(double a, double b) { return a + b; }
CUDA_SIM_OUT_OF_LINE double __dsub_rn(double a, double b) { return a - b; }
CUDA_SIM_OUT_OF_LINE double __dmul_rn(double a, double b) { return a * b; }
CUDA_SIM_OUT_OF_LINE double __ddiv_rn(double a, double b) { return a / b; }
CUDA_SIM_OUT_OF_LINE double __dsqrt_rn(double a) { return std::sqrt(a); }
CUDA_SIM_OUT_OF_LINE double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
