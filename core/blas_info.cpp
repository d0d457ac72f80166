// core/blas_info.h. oneDNN reports the instruction set its kernels use (dnnl_get_effective_cpu_isa:
// the best the CPU's feature bits allow, lowered only by DNNL_MAX_CPU_ISA); OpenBLAS its core name
// (openblas_get_corename, the model-based choice of a DYNAMIC_ARCH build) and build configuration.
// The CPU's own features come from cpuid (__builtin_cpu_supports).
#include "core/blas_info.h"

#include <cstring>

#if defined(MRBM_HAVE_OPENBLAS)
#include <cblas.h>
#endif
#if defined(MRBM_HAVE_DNNL)
#include <oneapi/dnnl/dnnl.h>
#endif

namespace mrbm {
namespace {

struct CpuVectors {
  bool avx2 = false, avx512 = false;
};

CpuVectors cpu_vectors() {
  CpuVectors v;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  v.avx2 = __builtin_cpu_supports("avx2");
  v.avx512 = __builtin_cpu_supports("avx512f");
#endif
  return v;
}

#if defined(MRBM_HAVE_DNNL)
const char* dnnl_isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}
#endif

#if defined(MRBM_HAVE_OPENBLAS)
// OpenBLAS cores whose sgemm kernels use AVX2 or AVX-512 (OpenBLAS 0.3.x names). Any other core
// (Prescott, Core2, Nehalem, Sandybridge, Barcelona, ...) is generic on a CPU with AVX2.
bool openblas_core_is_vectorized(const char* core) {
  for (const char* name : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids",
                           "Excavator"}) {
    if (std::strcmp(core, name) == 0) return true;
  }
  return false;
}

std::string openblas_line() {
  return std::string("OpenBLAS, core ") + openblas_get_corename() + " (" + openblas_get_config() +
         ")";
}
#endif

}  // namespace

CpuGemmInfo cpu_gemm_info() {
  CpuGemmInfo info;
  const CpuVectors cpu = cpu_vectors();
  info.cpu = cpu.avx512 ? "avx512f avx2" : (cpu.avx2 ? "avx2" : "no avx2");
  const char* best = cpu.avx512 ? "AVX-512" : "AVX2";
#if defined(MRBM_HAVE_DNNL)
  info.onednn = true;
  const dnnl_version_t* v = dnnl_version();
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  info.float32 = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                 std::to_string(v->patch) + " dnnl_sgemm, kernels " + dnnl_isa_name(isa);
  const bool dnnl_vectorized = (isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2;
  if (cpu.avx2 && !dnnl_vectorized) {
    info.warning = std::string("oneDNN runs ") + dnnl_isa_name(isa) + " kernels on a CPU with " +
                   best + " (is DNNL_MAX_CPU_ISA set?): float32 GEMMs run below this CPU's speed";
  }
#endif
#if defined(MRBM_HAVE_OPENBLAS)
  info.float64 = openblas_line();
#if !defined(MRBM_HAVE_DNNL)
  info.float32 = info.float64;
#endif
  const char* core = openblas_get_corename();
  if (cpu.avx2 && !openblas_core_is_vectorized(core)) {
#if defined(MRBM_HAVE_DNNL)
    if (info.warning.empty()) {
      info.warning = std::string("OpenBLAS runs its generic ") + core + " kernels on a CPU with " +
                     best + " (it does not know this CPU model); only float64 GEMMs use it here";
    }
#else
    info.warning = std::string("OpenBLAS runs its generic ") + core + " kernels on a CPU with " +
                   best + " (it does not know this CPU model): GEMMs run several times below this "
                   "CPU's speed; build with oneDNN (Debian libdnnl-dev, tools/install-deps.sh), "
                   "which picks its kernels by the CPU's features";
#endif
  }
#endif
#if !defined(MRBM_HAVE_DNNL) && !defined(MRBM_HAVE_OPENBLAS)
  info.warning = "no BLAS in this build: CPU GEMMs run the plain reference loops, many times "
                 "slower (tools/install-deps.sh installs oneDNN and OpenBLAS)";
#endif
  if (info.float32.empty()) info.float32 = "plain loops (no BLAS in this build)";
  if (info.float64.empty()) info.float64 = "plain loops (no OpenBLAS in this build)";
  return info;
}

}  // namespace mrbm
