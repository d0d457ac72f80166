// Which library and which kernel family run mrbm's CPU GEMMs (core/gemm.cpp), for `mrbm info` and
// the bench headers, with a warning when the kernels are generic on a CPU that could run AVX2 or
// AVX-512 ones (OpenBLAS picks its kernels by the CPU's model: on models it does not know, e.g.
// some cloud VMs, it falls back to its Prescott kernels, 4-7x slower; docs/benchmarks.md).
#pragma once

#include <string>

namespace mrbm {

struct CpuGemmInfo {
  std::string float32;  // library and kernels of the float32 products (the training path)
  std::string float64;  // the same for float64 (tests, gradient checks)
  std::string cpu;      // the CPU's vector features that matter here: "avx512f avx2", "avx2", ...
  std::string warning;  // empty, or why this machine's GEMMs run below its speed
  bool onednn = false;  // whether this build has oneDNN
};

CpuGemmInfo cpu_gemm_info();

}  // namespace mrbm
