// CPU reference of the fused multinary pass (kernels/multinary.h): the oracle that the CUDA kernel
// (kernels/multinary.cuh) is tested against, and the CPU backend.
//
// Two loops, one formula. Copy units (and the exact sampler) go element by element through
// multinary_element(). Binary and closed-form units with the mean or gaussian sampler (what
// training runs) go through closed_form_row(): the same closed_form_values() of
// kernels/multinary_math.h, but evaluated over a chunk of a row by a loop without branches or
// calls, which the compiler vectorizes (2 doubles per instruction at the x86-64 baseline, 4 or 8 in
// the AVX2 and AVX-512 clones below); stores, samples and the rare non-finite inputs then follow.
// Every output equals what multinary_element() gives for the same element, bit for bit, except
// row_phi, which is summed in four interleaved partial sums (a fixed order, so still
// deterministic) instead of one.
#include <algorithm>
#include <cstring>

#include "kernels/multinary.h"

namespace mrbm::kernels {
namespace {

constexpr int64_t kChunk = 256;  // elements per vectorized block (a multiple of 4)

// x + bias for elements c0 .. c0+m-1 of a row, into xe.
inline void effective_input(const MultinaryArgs& a, const float* x, int64_t c0, int64_t m,
                            float* xe) {
  if (!a.bias) {
    std::memcpy(xe, x, sizeof(float) * static_cast<size_t>(m));
  } else if (a.bias_inner == 1) {
    for (int64_t j = 0; j < m; ++j) xe[j] = x[j] + a.bias[c0 + j];
  } else {  // NCHW: runs of bias_inner columns share one bias value
    int64_t channel = c0 / a.bias_inner, within = c0 % a.bias_inner;
    for (int64_t j = 0; j < m; ++channel, within = 0) {
      const int64_t len = std::min(a.bias_inner - within, m - j);
      const float b = a.bias[channel];
      for (int64_t t = 0; t < len; ++t) xe[j + t] = x[j + t] + b;
      j += len;
    }
  }
}

template <bool kVar, bool kPhi>
__attribute__((always_inline)) inline double closed_form_row(const MultinaryArgs& a,
                                                             const UnitConstants& k, int64_t r) {
  const bool binary = a.unit.kind == UnitKind::kBinary;
  const double n = binary ? 1.0 : static_cast<double>(a.unit.n);
  const double s = binary ? 1.0 : a.unit.scale;
  const int64_t row_start = r * a.cols;
  float xe[kChunk], mean[kChunk], var[kChunk];
  double phi[kChunk];
  double p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0;
  for (int64_t c0 = 0; c0 < a.cols; c0 += kChunk) {
    const int64_t m = std::min(kChunk, a.cols - c0);
    effective_input(a, a.x + row_start + c0, c0, m, xe);
    for (int64_t j = 0; j < m; ++j) {  // vectorized: closed_form_values is branch free
      const UnitValues v =
          detail::closed_form_values(n, s, k.inv_scale, static_cast<double>(xe[j]), kVar, kPhi);
      mean[j] = v.mean;
      if (kVar) var[j] = v.var;
      if (kPhi) phi[j] = v.phi;
    }
    for (int64_t j = 0; j < m; ++j) {
      if (!(std::fabs(xe[j]) <= 3.402823466e+38f)) {  // NaN, +-inf: the documented limits
        const UnitValues v = unit_values(a.unit, k, xe[j], kVar, kPhi);
        mean[j] = v.mean;
        if (kVar) var[j] = v.var;
        if (kPhi) phi[j] = v.phi;
      }
    }
    const int64_t i0 = row_start + c0;
    if (a.mean) std::memcpy(a.mean + i0, mean, sizeof(float) * static_cast<size_t>(m));
    if (a.var) std::memcpy(a.var + i0, var, sizeof(float) * static_cast<size_t>(m));
    if (a.sample && a.sampler == Sampler::kGaussian) {
      // Vectorized too: Philox and the Box-Muller polynomials are branch free on the host.
      const float n_f = static_cast<float>(n);
      float* out = a.sample + i0;
      for (int64_t j = 0; j < m; ++j) {
        PhiloxStream rng(a.seed, static_cast<uint64_t>(a.first_element + i0 + j), a.offset);
        out[j] = gaussian_sample(mean[j], kVar ? var[j] : 0.0f, n_f, rng.normal());
      }
      for (int64_t j = 0; j < m; ++j) {
        if (xe[j] != xe[j]) out[j] = xe[j];  // NaN in, NaN out (as sample_unit)
      }
    } else if (a.sample) {
      for (int64_t j = 0; j < m; ++j) {
        PhiloxStream rng(a.seed, static_cast<uint64_t>(a.first_element + i0 + j), a.offset);
        a.sample[i0 + j] =
            sample_unit(a.unit, k, a.sampler, xe[j], mean[j], kVar ? var[j] : 0.0f, rng);
      }
    }
    if (kPhi) {
      int64_t j = 0;
      for (; j + 4 <= m; j += 4) {
        p0 += phi[j];
        p1 += phi[j + 1];
        p2 += phi[j + 2];
        p3 += phi[j + 3];
      }
      // The last 1-3 elements of a row (kChunk is a multiple of 4) go to p0, p1, p2 in order.
      for (int64_t t = 0; j < m; ++j, ++t) (t == 0 ? p0 : t == 1 ? p1 : p2) += phi[j];
    }
  }
  return (p0 + p1) + (p2 + p3);
}

// All rows of a binary or closed-form unit. On x86-64 GCC also compiles AVX-512 and AVX2 clones
// and picks the best one the CPU has at load time (-ffp-contract=off, set in CMakeLists.txt, keeps
// FMA contraction out, so all clones round identically: the test "vectorized closed-form pass
// equals the per-element formula" caught the AVX-512 clone's contractions). Zen 4, 1 thread,
// N = 255, mean+var+phi: 6.7 ns per element with the AVX2 clone, 4.6 with the AVX-512 one. The
// AVX-512 clone targets x86-64-v4 (F, DQ, BW, VL, CD: every AVX-512 CPU since Skylake-SP), not F
// alone: DQ's 64-bit multiplies and conversions make the Philox and Box-Muller of the gaussian
// sampler 25% faster (9.9 -> 7.5 ns per draw on Zen 4).
// Not under ThreadSanitizer (the simulated tsan build, docs/building.md): GCC instruments the
// clones' ifunc resolver too, and the dynamic loader runs it before TSan's runtime exists (the
// test binary died with SIGSEGV in closed_form_rows [clone .resolver] before main). That build
// runs the baseline loop, instrumented like the rest.
#if defined(__SANITIZE_THREAD__)
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))  // x86-64-v4: GCC 11 and later
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void closed_form_rows(const MultinaryArgs& a, const UnitConstants& k) {
  const bool need_var = a.var != nullptr || a.sampler == Sampler::kGaussian;
  const bool need_phi = a.row_phi != nullptr;
  for (int64_t r = 0; r < a.rows; ++r) {
    double phi_sum;
    if (need_var) {
      phi_sum =
          need_phi ? closed_form_row<true, true>(a, k, r) : closed_form_row<true, false>(a, k, r);
    } else {
      phi_sum =
          need_phi ? closed_form_row<false, true>(a, k, r) : closed_form_row<false, false>(a, k, r);
    }
    if (a.row_phi) a.row_phi[r] = phi_sum;
  }
}

}  // namespace

Status multinary_forward_cpu(const MultinaryArgs& a) {
  const Status status = validate_multinary_args(a);
  if (status != Status::kOk) return status;
  const UnitConstants k = unit_constants(a.unit);
  if ((a.unit.kind == UnitKind::kBinary || a.unit.kind == UnitKind::kClosedForm) &&
      a.sampler != Sampler::kExact) {
    closed_form_rows(a, k);
    return Status::kOk;
  }
  for (int64_t r = 0; r < a.rows; ++r) {
    double phi_sum = 0.0;  // float64: F reaches 1e5-1e6 per sample at N = 255
    const int64_t row_start = r * a.cols;
    for (int64_t c = 0; c < a.cols; ++c) phi_sum += multinary_element(a, k, row_start + c, c);
    if (a.row_phi) a.row_phi[r] = phi_sum;
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
