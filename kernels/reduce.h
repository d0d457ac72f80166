// Reductions in float64 (docs/kernels.md; MATH.md sections 4, 5, 8: free energies and losses reach
// 1e5-1e6 per sample, so every sum is accumulated in double whatever the input type):
//
//   sum_all:   out[0]  = sum_i x[i]                                   (n elements)
//   row_sums:  out[r]  = sum_c x[r, c]                                (rows x cols -> rows)
//   col_sums:  out[c]  = sum_r x[r, c]                                (rows x cols -> cols)
//   row_dot:   out[r]  = sum_c a[r, c] * b[r, c]                      (b_inner = kRowDotFullB)
//              out[r]  = sum_c a[r, c] * b[c / b_inner]               (b_inner >= 1: one vector b
//                        broadcast over the rows, in the bias layout of kernels/elementwise.h; a.v
//                        per sample is b_inner = 1 for dense layers, H * W for NCHW layers)
//   bias_grad: grad_bias[ch] = alpha * sum_{r, p} g[r, ch, p] + gamma * grad_bias[ch]
//              (g is rows x (channels * inner), the layout of add_bias; the backward of add_bias)
//
// Layout: contiguous row-major; a row is one sample. Outputs are double (sum_all, row_sums,
// col_sums, row_dot) or T (bias_grad, a parameter gradient: the sum is rounded once at the end).
// Outputs must not overlap inputs. bias_grad follows the coefficient rule of kernels/elementwise.h:
// gamma = 0 ignores the old grad_bias (NaN there does not propagate), alpha = 0 does not read g.
//
// CPU references (templates on T, float and double): the *_cpu functions of this header, loops
// that add each sum's terms into eight interleaved partial sums (PartialSums8: term t of a run
// into partial t % 8, combined in a fixed tree), so that the adds vectorize and overlap instead of
// waiting on one another (a sequential float64 sum is bound by the add latency, ~4 cycles per
// term: 5% of a demo training step before). The order depends on the shapes only. CUDA (float input): the *_cuda functions of kernels/reduce_cuda.h and the
// header-only launchers launch_* of kernels/reduce.cuh. Both evaluate the same functors (the loads
// and ChannelOutput below), so each formula exists once; the CUDA sums add the same terms in a
// different, fixed order (a tree), so the two agree to float64 rounding, not bit for bit. On the
// GPU the order depends on the shape only (never on the device or on timing: no atomics), so
// repeated runs give bit-identical results.
//
// The CUDA reductions need a caller-owned device workspace of *_workspace_bytes(shape) bytes
// (8-byte aligned; may be null when the size is 0), declared here so that host code can size it
// without CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/rounded.h"
#include "kernels/hd.h"
#include "kernels/status.h"

namespace mrbm::kernels {

// row_dot's b_inner for a b of the same shape as a (no broadcast).
constexpr int64_t kRowDotFullB = 0;

// ---------------------------------------------------------------------------------------------
// The formulas.

// Element (r, c) of the sum, in double.
template <typename T>
struct RowSumLoad {
  const T* x;
  int64_t cols;
  MRBM_HD double operator()(int64_t r, int64_t c) const {
    return static_cast<double>(x[r * cols + c]);
  }
};

// Element (r, c) of the dot products. For float inputs the double product is exact (24 + 24
// significant bits < 53), so CPU and GPU sum the same terms.
template <typename T>
struct RowDotLoad {
  const T* a;
  const T* b;
  int64_t cols;
  int64_t b_inner;  // kRowDotFullB or the broadcast layout
  MRBM_HD double operator()(int64_t r, int64_t c) const {
    const int64_t i = r * cols + c;
    const T b_value = b_inner == kRowDotFullB ? b[i] : b[bias_channel(c, b_inner)];
    return rounded_mul(static_cast<double>(a[i]), static_cast<double>(b_value));
  }
};

// Writes channel ch of a channel sum: out[ch] = alpha * sum + gamma * out[ch] in double, rounded
// once to OutT. Zero coefficients remove their term (the old out is not read when gamma = 0).
template <typename OutT>
struct ChannelOutput {
  OutT* out;
  double alpha;
  double gamma;
  MRBM_HD void operator()(int64_t ch, double sum) const {
    double value = 0.0;
    if (alpha != 0.0) value = rounded_mul(alpha, sum);
    if (gamma != 0.0)
      value = rounded_add(value,
                                      rounded_mul(gamma, static_cast<double>(out[ch])));
    out[ch] = static_cast<OutT>(value);
  }
};

// ---------------------------------------------------------------------------------------------
// CUDA launch shape. It lives here because the workspace sizes follow from it, and it depends on
// the shape only, so the summation order is the same on every run and every GPU.

constexpr int kReduceThreads = 256;
// Row reductions: a block sums up to 4096 columns of a row (16 per thread); wider rows are split
// over up to 1024 blocks whose partial sums (rows x split doubles) a second kernel adds.
constexpr int64_t kRowReduceColsPerBlock = 4096;
constexpr int64_t kRowReduceMaxSplit = 1024;
// Column and channel reductions: the rows are cut into slices of at least 16 rows so that about
// 512 blocks of 256 columns run; each slice writes one row of column sums (slices x cols doubles)
// and a second kernel adds them per channel. With a single slice (rows <= 16, or very wide rows)
// the channel kernel reads the input directly and no workspace is needed.
constexpr int64_t kColReduceMinRowsPerSlice = 16;
constexpr int64_t kColReduceTargetBlocks = 512;

inline int64_t row_reduce_split(int64_t cols) {
  const int64_t split = (cols + kRowReduceColsPerBlock - 1) / kRowReduceColsPerBlock;
  return split < 1 ? 1 : (split > kRowReduceMaxSplit ? kRowReduceMaxSplit : split);
}

struct ColReducePlan {
  int64_t slices = 1;
  int64_t rows_per_slice = 0;
};

inline ColReducePlan col_reduce_plan(int64_t rows, int64_t cols) {
  ColReducePlan plan;
  if (rows <= 0 || cols <= 0) return plan;
  const int64_t col_blocks = (cols + kReduceThreads - 1) / kReduceThreads;
  const int64_t by_rows = (rows + kColReduceMinRowsPerSlice - 1) / kColReduceMinRowsPerSlice;
  const int64_t by_blocks = (kColReduceTargetBlocks + col_blocks - 1) / col_blocks;
  int64_t slices = by_rows < by_blocks ? by_rows : by_blocks;
  if (slices < 1) slices = 1;
  plan.rows_per_slice = (rows + slices - 1) / slices;
  plan.slices = (rows + plan.rows_per_slice - 1) / plan.rows_per_slice;  // no empty slice
  return plan;
}

// Workspace bytes of the CUDA reductions (0: none needed). Negative sizes give 0 (the call itself
// then fails validation).
inline size_t row_sums_workspace_bytes(int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return 0;
  const int64_t split = row_reduce_split(cols);
  return split > 1 ? sizeof(double) * static_cast<size_t>(rows * split) : 0;
}
inline size_t row_dot_workspace_bytes(int64_t rows, int64_t cols) {
  return row_sums_workspace_bytes(rows, cols);
}
inline size_t sum_all_workspace_bytes(int64_t n) { return row_sums_workspace_bytes(1, n); }
inline size_t col_sums_workspace_bytes(int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return 0;
  const ColReducePlan plan = col_reduce_plan(rows, cols);
  return plan.slices > 1 ? sizeof(double) * static_cast<size_t>(plan.slices * cols) : 0;
}
inline size_t bias_grad_workspace_bytes(int64_t rows, int64_t channels, int64_t inner) {
  if (channels <= 0 || inner <= 0 || !detail::elementwise_product_fits(channels, inner)) return 0;
  return col_sums_workspace_bytes(rows, channels * inner);
}

// ---------------------------------------------------------------------------------------------
// Argument checks, shared by the CPU references and the CUDA launchers.

inline bool reduce_sizes_valid(int64_t rows, int64_t cols) {
  return rows >= 0 && cols >= 0 && detail::elementwise_product_fits(rows, cols);
}

template <typename T>
Status validate_row_sums_args(const double* out, const T* x, int64_t rows, int64_t cols) {
  if (!reduce_sizes_valid(rows, cols)) return Status::kInvalidArgument;
  if ((rows > 0 && !out) || (rows * cols > 0 && !x)) return Status::kInvalidArgument;
  return Status::kOk;
}

template <typename T>
Status validate_col_sums_args(const double* out, const T* x, int64_t rows, int64_t cols) {
  if (!reduce_sizes_valid(rows, cols)) return Status::kInvalidArgument;
  if ((cols > 0 && !out) || (rows * cols > 0 && !x)) return Status::kInvalidArgument;
  return Status::kOk;
}

template <typename T>
Status validate_row_dot_args(const double* out, const T* a, const T* b, int64_t rows, int64_t cols,
                             int64_t b_inner) {
  if (!reduce_sizes_valid(rows, cols) || b_inner < 0) return Status::kInvalidArgument;
  if (b_inner != kRowDotFullB && cols % b_inner != 0) return Status::kInvalidArgument;
  if ((rows > 0 && !out) || (rows * cols > 0 && (!a || !b))) return Status::kInvalidArgument;
  return Status::kOk;
}

template <typename T>
Status validate_bias_grad_args(const T* grad_bias, const T* g, int64_t rows, int64_t channels,
                               int64_t inner, T alpha) {
  if (rows < 0 || channels < 0 || inner < 1) return Status::kInvalidArgument;
  if (!detail::elementwise_product_fits(channels, inner)) return Status::kInvalidArgument;
  if (!reduce_sizes_valid(rows, channels * inner)) return Status::kInvalidArgument;
  if (channels > 0 && !grad_bias) return Status::kInvalidArgument;
  if (rows * channels * inner > 0 && alpha != T(0) && !g) return Status::kInvalidArgument;
  return Status::kOk;
}

// ---------------------------------------------------------------------------------------------
// CPU references and CPU backend: float64 sums in eight partial sums, one thread.

struct PartialSums8 {
  double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  // Adds term(0) .. term(n - 1), term t into p[t % 8].
  template <typename Term>
  void add(int64_t n, const Term& term) {
    int64_t t = 0;
    for (; t + 8 <= n; t += 8)
      for (int k = 0; k < 8; ++k) p[k] += term(t + k);
    for (int k = 0; t < n; ++t, ++k) p[k] += term(t);
  }
  double total() const { return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7])); }
};

template <typename Load>
void row_reduce_cpu(double* out, const Load& load, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    PartialSums8 acc;
    acc.add(cols, [&](int64_t c) { return load(r, c); });
    out[r] = acc.total();
  }
}

// out[r] = sum_c x[r, c].
template <typename T>
Status row_sums_cpu(double* out, const T* x, int64_t rows, int64_t cols) {
  const Status status = validate_row_sums_args(out, x, rows, cols);
  if (status != Status::kOk) return status;
  row_reduce_cpu(out, RowSumLoad<T>{x, cols}, rows, cols);
  return Status::kOk;
}

// out[0] = sum_i x[i] (0 for n = 0).
template <typename T>
Status sum_all_cpu(double* out, const T* x, int64_t n) {
  if (n < 0 || !out) return Status::kInvalidArgument;
  return row_sums_cpu(out, x, 1, n);
}

// out[r] = sum_c a[r, c] * b[r, c] (b_inner = kRowDotFullB) or sum_c a[r, c] * b[c / b_inner].
template <typename T>
Status row_dot_cpu(double* out, const T* a, const ElementwiseT<T>* b, int64_t rows, int64_t cols,
                   int64_t b_inner) {
  const Status status = validate_row_dot_args(out, a, b, rows, cols, b_inner);
  if (status != Status::kOk) return status;
  if (b_inner == kRowDotFullB) {
    row_reduce_cpu(out, RowDotLoad<T>{a, b, cols, b_inner}, rows, cols);
    return Status::kOk;
  }
  // Broadcast b: runs of b_inner columns share b[ch] (no division per element). Each term is the
  // same exact double product as RowDotLoad's.
  for (int64_t r = 0; r < rows; ++r) {
    PartialSums8 acc;
    for (int64_t ch = 0; ch < cols / b_inner; ++ch) {
      const T* run = a + r * cols + ch * b_inner;
      const double bv = static_cast<double>(b[ch]);
      acc.add(b_inner, [&](int64_t t) {
        return rounded_mul(static_cast<double>(run[t]), bv);
      });
    }
    out[r] = acc.total();
  }
  return Status::kOk;
}

// out[c] = sum_r x[r, c]. Row by row into out (each column still adds its rows in order), which
// reads x sequentially.
template <typename T>
Status col_sums_cpu(double* out, const T* x, int64_t rows, int64_t cols) {
  const Status status = validate_col_sums_args(out, x, rows, cols);
  if (status != Status::kOk) return status;
  for (int64_t c = 0; c < cols; ++c) out[c] = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const RowSumLoad<T> load{x, cols};
    for (int64_t c = 0; c < cols; ++c) out[c] += load(r, c);
  }
  return Status::kOk;
}

// grad_bias[ch] = alpha * sum_{r, p} g[r, ch, p] + gamma * grad_bias[ch], g rows x (channels *
// inner); the sum in double, rounded once to T.
template <typename T>
Status bias_grad_cpu(T* grad_bias, const ElementwiseT<T>* g, int64_t rows, int64_t channels,
                     int64_t inner, ElementwiseT<T> alpha, ElementwiseT<T> gamma) {
  const Status status = validate_bias_grad_args(grad_bias, g, rows, channels, inner, alpha);
  if (status != Status::kOk) return status;
  const ChannelOutput<T> output{grad_bias, static_cast<double>(alpha), static_cast<double>(gamma)};
  const int64_t summed_rows = alpha != T(0) ? rows : 0;  // alpha = 0: g is not read
  for (int64_t ch = 0; ch < channels; ++ch) {
    PartialSums8 acc;
    for (int64_t r = 0; r < summed_rows; ++r) {
      const T* plane = g + (r * channels + ch) * inner;
      acc.add(inner, [&](int64_t p) { return static_cast<double>(plane[p]); });
    }
    output(ch, acc.total());
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
