// Elementwise, bias and reduction functions on Tensors: device dispatch to the kernels of
// kernels/elementwise.h, kernels/reduce.h and kernels/broadcast.h (CPU: float32 and float64;
// CUDA: float32, on the context's stream with its workspace). No gradients here: autodiff/ builds
// its ops from these. Shapes are checked by element count; rows = size(0) of the "rows x cols"
// view of a tensor, cols = numel / rows. Accumulating outputs take gamma (0 overwrites, 1 adds).
#pragma once

#include "core/cuda_context.h"
#include "core/tensor.h"

namespace mrbm {

// out = alpha a + beta b + gamma out (a zero coefficient drops its term; the operand may be an
// undefined Tensor then).
void axpby(Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta, double gamma,
           CudaContext* cuda);
// out = alpha a * b + gamma out
void mul(Tensor& out, const Tensor& a, const Tensor& b, double alpha, double gamma,
         CudaContext* cuda);
// out[r, c] = x[r, c] + bias[c / inner], cols = bias.numel() * inner
void add_bias(Tensor& out, const Tensor& x, const Tensor& bias, int64_t inner, CudaContext* cuda);
// grad_bias[ch] = alpha sum_{r, p} g[r, ch * inner + p] + gamma grad_bias[ch]
void bias_grad(Tensor& grad_bias, const Tensor& g, int64_t inner, double alpha, double gamma,
               CudaContext* cuda);
// out (float64, 1 element) = sum of x
void sum_all(Tensor& out, const Tensor& x, CudaContext* cuda);
// out (float64, rows) = sums of the rows of x
void row_sums(Tensor& out, const Tensor& x, CudaContext* cuda);
// out (float64, rows) = sum_c x[r, c] * vec[c / inner]
void row_dot(Tensor& out, const Tensor& x, const Tensor& vec, int64_t inner, CudaContext* cuda);
// out[r, c] = gamma out + alpha row[r] col[c / inner] elem[r, c]; undefined factors are 1; row is
// float64 with one value per row of out (or a single value when out has one row).
void broadcast_product(Tensor& out, const Tensor& row, const Tensor& col, const Tensor& elem,
                       int64_t inner, double alpha, double gamma, CudaContext* cuda);

}  // namespace mrbm
