// gemm_reference: the plain-loop GEMM that the OpenBLAS and cuBLAS paths of core/ are tested
// against (the oracle), for float and double.
//
//   C = alpha op(A) op(B) + beta C,   op(A) m x k, op(B) k x n, C m x n,
// all ROW-MAJOR with leading dimensions (the distance between consecutive rows):
//   A stored m x k (trans_a false, lda >= k) or k x m (trans_a true, lda >= m), op(A) = A or A^T;
//   B stored k x n (trans_b false, ldb >= n) or n x k (trans_b true, ldb >= k);
//   C stored m x n, ldc >= n.
// (cblas_sgemm(CblasRowMajor, ...) has exactly these arguments; cuBLAS, which is column-major,
// computes the same thing as C^T = op(B)^T op(A)^T with the operands swapped.)
//
// Precision: every dot product is accumulated in double, for float too, and rounded to T once at
// the end: for float inputs each product is exact in double, so the float result is the exactly
// rounded value up to the double summation error k * 2^-53 * sum |a_il b_lj| (negligible), which
// makes it a sharp oracle for float BLAS results.
// BLAS semantics kept on purpose: beta == 0 means C is not read (NaN or garbage in C is ignored);
// alpha == 0 means A and B are not read (C = beta C). No aliasing between C and A or B.
#pragma once

#include <cstdint>

#include "kernels/status.h"

namespace mrbm::kernels {

// Returns kInvalidArgument without writing when a size is negative, a leading dimension is too
// small, or a pointer that must be read or written is null; kOk otherwise.
template <class T>
Status gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                      const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m < 0 || n < 0 || k < 0) return Status::kInvalidArgument;
  const int64_t a_cols = trans_a ? m : k;
  const int64_t b_cols = trans_b ? k : n;
  // Like BLAS: a leading dimension is at least 1 even for an empty matrix.
  if (lda < (a_cols > 1 ? a_cols : 1) || ldb < (b_cols > 1 ? b_cols : 1) || ldc < (n > 1 ? n : 1))
    return Status::kInvalidArgument;
  if (m == 0 || n == 0) return Status::kOk;
  if (c == nullptr) return Status::kInvalidArgument;
  const bool read_ab = alpha != T(0) && k > 0;
  if (read_ab && (a == nullptr || b == nullptr)) return Status::kInvalidArgument;

  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      if (read_ab) {
        for (int64_t l = 0; l < k; ++l) {
          const T a_il = trans_a ? a[l * lda + i] : a[i * lda + l];
          const T b_lj = trans_b ? b[j * ldb + l] : b[l * ldb + j];
          acc += static_cast<double>(a_il) * static_cast<double>(b_lj);
        }
      }
      double value = static_cast<double>(alpha) * acc;
      if (beta != T(0)) value += static_cast<double>(beta) * static_cast<double>(c[i * ldc + j]);
      c[i * ldc + j] = static_cast<T>(value);
    }
  }
  return Status::kOk;
}

}  // namespace mrbm::kernels
