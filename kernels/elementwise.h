// Elementwise and bias kernels: the building blocks of the autodiff ops, forward and backward
// (docs/kernels.md). The formulas, for contiguous tensors of n elements:
//
//   axpby:    out[i] = alpha * a[i] + beta * b[i] + gamma * out[i]
//   mul:      out[i] = alpha * a[i] * b[i] + gamma * out[i]
//   scale:    out[i] = alpha * a[i]                        (axpby with beta = gamma = 0)
//   fill:     out[i] = value
//   add_bias: out[r, c] = x[r, c] + bias[c / inner]         (rows x cols, cols = channels * inner)
//
// add_bias layout: row-major rows x (channels * inner): dense layers have inner = 1 (one bias per
// column), NCHW convolution outputs have inner = H * W (one bias per channel plane); a row is one
// sample. Its backward (grad_bias[ch] = sum over rows and positions) is bias_grad in
// kernels/reduce.h.
//
// Accumulation (the minimal design): every op that could feed a gradient takes a coefficient gamma
// on the old output, so `grad += alpha * a + beta * b` or `grad += g * f'` is one pass (gamma = 1)
// and a plain write is gamma = 0. Rule for all coefficients: a coefficient equal to zero removes
// its term, the operand is then not read (its pointer may be null) and NaN or inf in it do not
// propagate. This is what lets gamma = 0 overwrite an uninitialized output (as BLAS does for beta =
// 0), and it costs one uniform branch per term.
//
// Aliasing: out may be the same pointer as a and/or b (and x for add_bias): each element is read
// before it is written, by the same thread; partially overlapping ranges are not supported.
//
// Rounding: every product and sum is rounded separately in T, in the order the formulas are written
// (left to right), and the device never contracts them into FMAs (kernels/rounded.h), so the
// CUDA results equal the CPU results bit for bit.
//
// CPU references (templates on T, float and double; the autodiff gradient checks run in double):
// the *_cpu functions of this header. CUDA (float): the *_cuda functions of
// kernels/elementwise_cuda.h (compiled into mrbm_kernels) and the header-only launchers launch_* of
// kernels/elementwise.cuh. Both call the functors below, so each formula exists once.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/rounded.h"
#include "kernels/status.h"

namespace mrbm::kernels {

// T named in a non-deduced context: the CPU templates deduce T from the output pointer alone, so
// coefficients may be written as double literals and unread inputs as nullptr in a T = float call
// (axpby_cpu(out, a, nullptr, n, 2.0, 0.0, 1.0)).
template <typename T>
struct ElementwiseIdentity {
  using type = T;
};
template <typename T>
using ElementwiseT = typename ElementwiseIdentity<T>::type;

namespace detail {

// True when a * b (both >= 0) fits int64_t.
inline bool elementwise_product_fits(int64_t a, int64_t b) { return a == 0 || b <= INT64_MAX / a; }

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// The formulas (one functor per op; the CPU loop and the CUDA kernel both call operator()).

template <typename T>
struct AxpbyOp {
  T* out;
  const T* a;
  const T* b;
  T alpha, beta, gamma;
  MRBM_HD void operator()(int64_t i) const {
    T acc = T(0);
    if (alpha != T(0)) acc = rounded_mul(alpha, a[i]);
    if (beta != T(0)) acc = rounded_add(acc, rounded_mul(beta, b[i]));
    if (gamma != T(0)) acc = rounded_add(acc, rounded_mul(gamma, out[i]));
    out[i] = acc;
  }
};

template <typename T>
struct MulOp {
  T* out;
  const T* a;
  const T* b;
  T alpha, gamma;
  MRBM_HD void operator()(int64_t i) const {
    T acc = T(0);
    if (alpha != T(0)) acc = rounded_mul(rounded_mul(alpha, a[i]), b[i]);
    if (gamma != T(0)) acc = rounded_add(acc, rounded_mul(gamma, out[i]));
    out[i] = acc;
  }
};

template <typename T>
struct FillOp {
  T* out;
  T value;
  MRBM_HD void operator()(int64_t i) const { out[i] = value; }
};

// Element i of a row, in bias channel ch (= (i % cols) / inner, computed by the caller's loop).
template <typename T>
struct AddBiasOp {
  T* out;
  const T* x;
  const T* bias;
  MRBM_HD void operator()(int64_t i, int64_t ch) const {
    out[i] = rounded_add(x[i], bias[ch]);
  }
};

// The bias channel of column c (0 <= c < channels * inner). 64-bit integer division is emulated on
// GPUs (tens of instructions); the 32-bit one is several times cheaper and covers every realistic
// row, so it is used whenever both operands fit. Same result either way.
MRBM_HD int64_t bias_channel(int64_t c, int64_t inner) {
  if (inner == 1) return c;
  if (c <= 0xffffffffLL && inner <= 0xffffffffLL)
    return static_cast<int64_t>(static_cast<uint32_t>(c) / static_cast<uint32_t>(inner));
  return c / inner;
}

// ---------------------------------------------------------------------------------------------
// Argument checks, shared by the CPU references and the CUDA launchers. An operand must be non-null
// when it is read: n > 0 and its coefficient is nonzero.

template <typename T>
Status validate_axpby_args(const T* out, const T* a, const T* b, int64_t n, T alpha, T beta) {
  if (n < 0) return Status::kInvalidArgument;
  if (n == 0) return Status::kOk;
  if (!out || (alpha != T(0) && !a) || (beta != T(0) && !b)) return Status::kInvalidArgument;
  return Status::kOk;
}

template <typename T>
Status validate_mul_args(const T* out, const T* a, const T* b, int64_t n, T alpha) {
  if (n < 0) return Status::kInvalidArgument;
  if (n == 0) return Status::kOk;
  if (!out || (alpha != T(0) && (!a || !b))) return Status::kInvalidArgument;
  return Status::kOk;
}

template <typename T>
Status validate_fill_args(const T* out, int64_t n) {
  if (n < 0 || (n > 0 && !out)) return Status::kInvalidArgument;
  return Status::kOk;
}

template <typename T>
Status validate_add_bias_args(const T* out, const T* x, const T* bias, int64_t rows,
                              int64_t channels, int64_t inner) {
  if (rows < 0 || channels < 0 || inner < 1) return Status::kInvalidArgument;
  if (!detail::elementwise_product_fits(channels, inner)) return Status::kInvalidArgument;
  if (!detail::elementwise_product_fits(rows, channels * inner)) return Status::kInvalidArgument;
  if (rows * channels * inner == 0) return Status::kOk;
  if (!out || !x || !bias) return Status::kInvalidArgument;
  return Status::kOk;
}

// ---------------------------------------------------------------------------------------------
// CPU references and CPU backend: plain loops, one thread.

// out = alpha * a + beta * b + gamma * out (n elements). add: (1, 1, 0); sub: (1, -1, 0);
// copy-scale: (alpha, 0, 0) with b = null; grad += a: (1, 0, 1).
template <typename T>
Status axpby_cpu(T* out, const ElementwiseT<T>* a, const ElementwiseT<T>* b, int64_t n,
                 ElementwiseT<T> alpha, ElementwiseT<T> beta, ElementwiseT<T> gamma) {
  const Status status = validate_axpby_args(out, a, b, n, alpha, beta);
  if (status != Status::kOk) return status;
  const AxpbyOp<T> op{out, a, b, alpha, beta, gamma};
  for (int64_t i = 0; i < n; ++i) op(i);
  return Status::kOk;
}

// out = alpha * a * b + gamma * out (n elements), rounded as (alpha * a) * b.
template <typename T>
Status mul_cpu(T* out, const ElementwiseT<T>* a, const ElementwiseT<T>* b, int64_t n,
               ElementwiseT<T> alpha, ElementwiseT<T> gamma) {
  const Status status = validate_mul_args(out, a, b, n, alpha);
  if (status != Status::kOk) return status;
  const MulOp<T> op{out, a, b, alpha, gamma};
  for (int64_t i = 0; i < n; ++i) op(i);
  return Status::kOk;
}

// out = alpha * a (n elements): axpby with beta = gamma = 0, so alpha = 0 writes zeros without
// reading a.
template <typename T>
Status scale_cpu(T* out, const ElementwiseT<T>* a, int64_t n, ElementwiseT<T> alpha) {
  return axpby_cpu<T>(out, a, nullptr, n, alpha, T(0), T(0));
}

// out = value (n elements).
template <typename T>
Status fill_cpu(T* out, int64_t n, ElementwiseT<T> value) {
  const Status status = validate_fill_args(out, n);
  if (status != Status::kOk) return status;
  const FillOp<T> op{out, value};
  for (int64_t i = 0; i < n; ++i) op(i);
  return Status::kOk;
}

// out[r, c] = x[r, c] + bias[c / inner]: rows x (channels * inner), bias has channels values.
template <typename T>
Status add_bias_cpu(T* out, const ElementwiseT<T>* x, const ElementwiseT<T>* bias, int64_t rows,
                    int64_t channels, int64_t inner) {
  const Status status = validate_add_bias_args(out, x, bias, rows, channels, inner);
  if (status != Status::kOk) return status;
  const AddBiasOp<T> op{out, x, bias};
  int64_t i = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t p = 0; p < inner; ++p) op(i++, ch);
  return Status::kOk;
}

}  // namespace mrbm::kernels
