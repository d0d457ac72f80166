// Matrix products on Tensors: C = alpha op(A) op(B) + beta C, row-major, float32 or float64.
//
// CPU: float32 by oneDNN's dnnl_sgemm when the build has it (it picks its kernels by the CPU's
// feature bits), else OpenBLAS's cblas_sgemm; float64 by OpenBLAS's cblas_dgemm; else the
// plain-loop reference (kernels/gemm_reference.h), which is also the oracle the BLAS paths are
// tested against. Each BLAS call runs on one thread over a block of C cut by the shape alone, and
// the blocks run on mrbm's pool (core/gemm.cpp): the bits never depend on the thread count.
// cpu_gemm_info() (core/blas_info.h) says which library and kernels run.
// CUDA: cuBLAS on the context's stream (row-major C = op(A) op(B) is computed as the column-major
// C^T = op(B)^T op(A)^T, so no transposes are materialized); TF32 only if the context allows it.
// A, B, C are 2-D, contiguous, on one device; beta = 0 ignores what C held (NaN included).
#pragma once

#include "core/cuda_context.h"
#include "core/tensor.h"

namespace mrbm {

// `cuda` is required for CUDA tensors and ignored for CPU ones.
void gemm(Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
          double beta, CudaContext* cuda);

// The CPU plain-loop path, always available (tests compare the BLAS path against it).
void gemm_reference_cpu(Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                        double alpha, double beta);

}  // namespace mrbm
