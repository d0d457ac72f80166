// Explicitly rounded IEEE arithmetic (round to nearest even), one correctly rounded operation per
// call on both devices, so that a formula written with them rounds identically on the CPU and the
// GPU (the CPU/GPU pairing rule, docs/architecture.md). On the device the __*_rn intrinsics are
// never contracted into FMAs (nvcc contracts a * b + c by default, --fmad=true) and ignore
// -use_fast_math; on the host each is a single operation, and mrbm builds with
// -ffp-contract=off, so nothing fuses them either. rounded_fma is the one fused operation, on both.
// Used by Adam, the element-wise kernels, the permute blend and the gaussian sampler.
#pragma once

#include <cmath>

#include "kernels/hd.h"

namespace mrbm::kernels {

#if defined(__CUDA_ARCH__)
MRBM_HD float rounded_mul(float a, float b) { return __fmul_rn(a, b); }
MRBM_HD double rounded_mul(double a, double b) { return __dmul_rn(a, b); }
MRBM_HD float rounded_add(float a, float b) { return __fadd_rn(a, b); }
MRBM_HD double rounded_add(double a, double b) { return __dadd_rn(a, b); }
MRBM_HD float rounded_div(float a, float b) { return __fdiv_rn(a, b); }
MRBM_HD double rounded_div(double a, double b) { return __ddiv_rn(a, b); }
MRBM_HD float rounded_sqrt(float a) { return __fsqrt_rn(a); }
MRBM_HD double rounded_sqrt(double a) { return __dsqrt_rn(a); }
MRBM_HD float rounded_fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
MRBM_HD double rounded_fma(double a, double b, double c) { return __fma_rn(a, b, c); }
#else
MRBM_HD float rounded_mul(float a, float b) { return a * b; }
MRBM_HD double rounded_mul(double a, double b) { return a * b; }
MRBM_HD float rounded_add(float a, float b) { return a + b; }
MRBM_HD double rounded_add(double a, double b) { return a + b; }
MRBM_HD float rounded_div(float a, float b) { return a / b; }
MRBM_HD double rounded_div(double a, double b) { return a / b; }
MRBM_HD float rounded_sqrt(float a) { return std::sqrt(a); }
MRBM_HD double rounded_sqrt(double a) { return std::sqrt(a); }
MRBM_HD float rounded_fma(float a, float b, float c) { return std::fma(a, b, c); }
MRBM_HD double rounded_fma(double a, double b, double c) { return std::fma(a, b, c); }
#endif

}  // namespace mrbm::kernels
