// The fused multinary unit pass (docs/kernels.md, docs/math.md sections 2, 6, 7).
//
// One pass over pre-activations x (rows x cols, row-major; a row is one sample) computes, per element,
//   x_eff = x + bias[col / bias_inner]          (bias optional: dense layers bias_inner = 1,
//                                                 NCHW conv layers bias_inner = H*W)
//   mean  = f(x_eff)                             (optional output)
//   var   = f'(x_eff)                            (optional output)
//   sample ~ the sampler's draw at x_eff         (optional output; counter-based, see kernels/philox.h)
// and per row, accumulated in float64,
//   row_phi[r] = sum_c Phi(x_eff[r, c])          (optional output; the hidden part of -F(v))
// for the unit of `unit` (kernels/unit_spec.h). Any output pointer may be null; at least one must be set.
//
// CPU reference: multinary_forward_cpu (this header). CUDA: multinary_forward_cuda
// (kernels/multinary_cuda.h, compiled into mrbm_kernels) and the header-only launcher
// launch_multinary_forward (kernels/multinary.cuh) for projects that embed the kernel.
// Both paths evaluate every element through multinary_element() below, so the formula exists once.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/multinary_math.h"
#include "kernels/multinary_sample.h"
#include "kernels/multinary_table.h"
#include "kernels/status.h"
#include "kernels/unit_spec.h"

namespace mrbm::kernels {

struct MultinaryArgs {
  // outputs (each optional)
  float* mean = nullptr;      // rows x cols
  float* var = nullptr;       // rows x cols
  float* sample = nullptr;    // rows x cols
  double* row_phi = nullptr;  // rows
  // CUDA only, optional: device scratch of multinary_row_partials_count(rows, cols) doubles.
  // With it, a row that spans several blocks has its row_phi summed from per-block partials in a
  // fixed order, so row_phi has the same bits on every run; without it, the blocks add with
  // atomics, whose order (and so the last bits) varies from run to run. Rows of at most
  // kMultinaryColumnsPerBlock columns are reproducible either way. The CPU ignores it.
  double* row_partials = nullptr;
  // inputs
  const float* x = nullptr;     // rows x cols pre-activations
  const float* bias = nullptr;  // cols / bias_inner values, or null
  // sizes
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t bias_inner = 1;  // consecutive columns sharing one bias value
  // options
  UnitSpec unit{};
  Sampler sampler = Sampler::kNone;  // must be kNone exactly when sample == nullptr
  uint64_t seed = 0;                 // generator key
  uint32_t offset = 0;               // generator stream offset (e.g. the Gibbs step number)
  int64_t first_element = 0;         // global index of element 0 for the generator: a pass split
                                     // into pieces draws what one whole pass would draw
};

// Columns of one row that one CUDA block evaluates (kernels/multinary.cuh: 256 threads x 4).
constexpr int64_t kMultinaryColumnsPerBlock = 1024;

// The doubles of MultinaryArgs::row_partials a pass of rows x cols needs: 0 when every row fits
// in one block (nothing to combine) or there is nothing to sum.
inline int64_t multinary_row_partials_count(int64_t rows, int64_t cols) {
  const int64_t blocks = (cols + kMultinaryColumnsPerBlock - 1) / kMultinaryColumnsPerBlock;
  return rows > 0 && blocks > 1 ? rows * blocks : 0;
}

// Checks sizes, pointers and the unit spec; shared by the CPU and CUDA entry points (inline so that
// the header-only launcher of kernels/multinary.cuh needs no compiled part of mrbm).
inline Status validate_multinary_args(const MultinaryArgs& a) {
  if (a.rows < 0 || a.cols < 0 || a.bias_inner < 1 || a.first_element < 0) return Status::kInvalidArgument;
  if (a.bias && a.cols % a.bias_inner != 0) return Status::kInvalidArgument;
  // With no elements the element pointers may be null (an empty buffer's data()).
  if (a.rows * a.cols > 0) {
    if (!a.x || (!a.mean && !a.var && !a.sample && !a.row_phi)) return Status::kInvalidArgument;
    if ((a.sample == nullptr) != (a.sampler == Sampler::kNone)) return Status::kInvalidArgument;
  }
  const Status unit_status = validate_unit_spec(a.unit);
  if (unit_status != Status::kOk) return unit_status;
  if (a.sampler == Sampler::kExact && a.unit.kind == UnitKind::kClosedForm &&
      closed_form_copy_count(a.unit) < 0) {
    return Status::kInvalidArgument;  // the binomial sampler needs an integral copy count N s
  }
  return Status::kOk;
}

// Everything the pass computes for element i = r * cols + c; returns Phi for the row sum.
// The single formula behind multinary_forward_cpu and the CUDA kernel.
// k = unit_constants(a.unit), computed once per pass (CPU) or per thread (CUDA).
MRBM_HD double multinary_element(const MultinaryArgs& a, const UnitConstants& k, int64_t i, int64_t c) {
  const float x = a.bias ? a.x[i] + a.bias[c / a.bias_inner] : a.x[i];
  const UnitValues v = unit_values(a.unit, k, x, a.var != nullptr || a.sampler == Sampler::kGaussian,
                                   a.row_phi != nullptr);
  if (a.mean) a.mean[i] = v.mean;
  if (a.var) a.var[i] = v.var;
  if (a.sample) {
    PhiloxStream rng(a.seed, static_cast<uint64_t>(a.first_element + i), a.offset);
    a.sample[i] = sample_unit(a.unit, k, a.sampler, x, v.mean, v.var, rng);
  }
  return v.phi;
}

// CPU reference and CPU backend: a plain loop over rows and columns, one thread (callers may split
// rows over threads: every element's result is independent of the others).
Status multinary_forward_cpu(const MultinaryArgs& args);

}  // namespace mrbm::kernels
