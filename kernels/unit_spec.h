// UnitSpec: which multinary unit a layer of units is (docs/math.md sections 2 and 7).
//
//   kBinary       f = sigma(x), Phi = softplus(x)                         (N = 1)
//   kClosedForm   f = N sigma(x/s), f' = (N/s) sigma'(x/s), Phi = N s softplus(x/s)
//   kEqualCopies  N binary copies with offsets theta_k = spacing * (k - (N+1)/2), k = 1..N:
//                 f = sum_k sigma(x - theta_k), f' = sum_k sigma'(.), Phi = sum_k softplus(.)
//   kLogitCopies  the same sums with theta_k = s * logit((k - 1/2) / N) (the offsets at which the
//                 closed form N sigma(x/s) crosses the half-integers); needs the float64 table
//                 built by build_copy_table() (kernels/multinary_table.h), on the device where
//                 the kernel runs.
//
// The copy sums are evaluated by the window-plus-tails method (exact within float32 rounding).
// Host-compilable: no CUDA headers.
#pragma once

#include <cstdint>

namespace mrbm::kernels {

enum class UnitKind : int32_t {
  kBinary = 0,
  kClosedForm = 1,
  kEqualCopies = 2,
  kLogitCopies = 3,
};

struct UnitSpec {
  UnitKind kind = UnitKind::kBinary;
  int32_t n = 1;               // maximum unit value N (number of copies); 1 for kBinary
  double scale = 1.0;          // s of kClosedForm and kLogitCopies
  double spacing = 1.0;        // offset spacing of kEqualCopies
  const double* table = nullptr;  // kLogitCopies: build_copy_table() output, host or device memory
};

// How the hidden sample of the negative phase is drawn (docs/math.md section 6).
enum class Sampler : int32_t {
  kNone = 0,      // no sample is written
  kMean = 1,      // h = f(x)
  kGaussian = 2,  // h = clip(f + sqrt(f') xi, 0, N), xi ~ N(0, 1)
  kExact = 3,     // binary: Bernoulli; closed form: Binomial(N s, sigma(x/s)) / s (needs N s
                  // integral); copies: windowed Poisson-binomial
};

}  // namespace mrbm::kernels
