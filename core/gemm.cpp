// Matrix products on Tensors (core/gemm.h).
#include "core/gemm.h"

#include <algorithm>
#include <atomic>

#include "core/cpu_threads.h"
#include "kernels/gemm_reference.h"

#if defined(MRBM_HAVE_OPENBLAS)
#include <cblas.h>
#endif
#if defined(MRBM_HAVE_DNNL)
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

#include <csignal>
#endif
#if defined(MRBM_WITH_CUDA)
#include <cublas_v2.h>
#endif

namespace mrbm {
namespace {

struct GemmDims {
  int64_t m, n, k, lda, ldb, ldc;
};

GemmDims check_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  MRBM_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2,
             "gemm needs 2-D tensors, got " << a.describe() << ", " << b.describe() << " -> "
                                            << c.describe());
  MRBM_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(),
             "gemm dtypes differ: " << a.describe() << ", " << b.describe() << ", " << c.describe());
  MRBM_CHECK(a.device() == b.device() && a.device() == c.device(),
             "gemm devices differ: " << a.describe() << ", " << b.describe() << ", "
                                     << c.describe());
  GemmDims d{};
  d.m = ta ? a.size(1) : a.size(0);
  d.k = ta ? a.size(0) : a.size(1);
  const int64_t kb = tb ? b.size(1) : b.size(0);
  d.n = tb ? b.size(0) : b.size(1);
  if (kb != d.k || c.size(0) != d.m || c.size(1) != d.n) {
    MRBM_THROW(ShapeError, "gemm shapes do not fit: op(A) " << shape_to_string({d.m, d.k})
                                                            << " x op(B) "
                                                            << shape_to_string({kb, d.n}) << " -> C "
                                                            << shape_to_string(c.shape()));
  }
  // Row-major leading dimensions, at least 1: with k = 0 (or n = 0) a row has no element, but
  // cuBLAS rejects a leading dimension below max(1, rows) with CUBLAS_STATUS_INVALID_VALUE
  // (issue 12, 6e). The value is never used to address an element of an empty matrix.
  d.lda = std::max<int64_t>(1, a.size(1));
  d.ldb = std::max<int64_t>(1, b.size(1));
  d.ldc = std::max<int64_t>(1, c.size(1));
  return d;
}

template <class T>
void reference(Tensor& c, const Tensor& a, const Tensor& b, bool ta, bool tb, double alpha,
               double beta, const GemmDims& d) {
  kernels::gemm_reference<T>(ta, tb, d.m, d.n, d.k, static_cast<T>(alpha), a.data<T>(), d.lda,
                             b.data<T>(), d.ldb, static_cast<T>(beta), c.data<T>(), d.ldc);
}

#if defined(MRBM_HAVE_OPENBLAS) || defined(MRBM_HAVE_DNNL)
// C = alpha op(A) op(B) + beta C by single-threaded BLAS calls (`blas` below): C's larger dimension
// is cut into contiguous blocks of whole 16-wide tiles (the width of the AVX-512 kernels), one call
// per block, and the blocks are shared out over cpu_threads() threads. Every element of C comes
// from one call, over all of k, so the split never adds partial sums. The cut is a function of the
// shape alone (at most kBlocks blocks of at least ~4 MFLOP each: handing a part to another thread
// costs 1-50 us), never of the thread count: a BLAS's rounding can depend on the shape of a call
// (its kernels differ per CPU), so a thread-count-dependent cut would make the bits depend on the
// thread count. Measured against OpenBLAS's own 2 threads (2-core Zen 4, demo shapes): the same
// speed on the large products, 4x faster on the thin weight gradient [32, 16] = [32, 12544]
// [12544, 16], and no idle BLAS thread spinning between products.
// blas(m, n, a, b, c): the row-major product of the block, C[m, n] = alpha op(A) op(B) + beta C
// with the leading dimensions and k of d.
template <class T, class Blas>
void blas_gemm_split(const Blas& blas, bool ta, bool tb, const GemmDims& d, const T* a,
                     const T* b, T* c) {
  constexpr int64_t kTile = 16;
  constexpr int64_t kBlocks = 16;  // enough for 16 threads; repacking op(A) per block costs ~1/16
  constexpr double kMinFlopsPerBlock = 4e6;
  const bool split_n = d.n >= d.m;
  const int64_t extent = split_n ? d.n : d.m;
  const int64_t tiles = (extent + kTile - 1) / kTile;
  const double flops = 2.0 * static_cast<double>(d.m) * static_cast<double>(d.n) *
                       static_cast<double>(d.k);
  const int64_t blocks = std::max<int64_t>(
      1, std::min<int64_t>({kBlocks, tiles, static_cast<int64_t>(flops / kMinFlopsPerBlock)}));
  auto run_block = [&](int64_t block) {  // tiles [tiles block / blocks, tiles (block + 1) / blocks)
    const int64_t lo = tiles * block / blocks * kTile;
    const int64_t len = std::min(extent, tiles * (block + 1) / blocks * kTile) - lo;
    if (split_n) {  // columns lo .. lo+len of op(B) and C
      blas(d.m, len, a, tb ? b + lo * d.ldb : b + lo, c + lo);
    } else {  // rows lo .. lo+len of op(A) and C
      blas(len, d.n, ta ? a + lo : a + lo * d.lda, b, c + lo * d.ldc);
    }
  };
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t block = b0; block < b1; ++block) run_block(block);
  });
}
#endif

#if defined(MRBM_HAVE_DNNL)
// Holds the thread's asynchronous signals for the length of a oneDNN call. Some of oneDNN 2.6's
// sgemm kernels move the stack pointer into a heap buffer of theirs while they run (measured: m 4,
// n 16, k 12544 with A transposed, and m 64, n 8, k 784). A signal handler that ran then pushed its
// frame onto that buffer and overwrote the heap beside it: `mrbm train` crashed at exit in 1 of
// 6-20 runs after a Ctrl-C during its sample grids, and an embedding program's own timer signals
// would do the same (test/test_core_gemm_signals.cpp). A held signal is delivered when the call
// returns, or at once to another thread that takes it; two system calls per oneDNN call. Faults of
// the call itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) are not held, so that a crash
// still reaches its handler.
class SignalsHeld {
 public:
  SignalsHeld() { pthread_sigmask(SIG_BLOCK, &held(), &saved_); }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  static const sigset_t& held() {  // built once: the calls are on the GEMMs' path
    static const sigset_t set = [] {
      sigset_t s;
      sigfillset(&s);
      for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&s, fault);
      return s;
    }();
    return set;
  }
  sigset_t saved_;
};

// One dnnl_sgemm on one thread. Debian's oneDNN runs its GEMMs on OpenMP with
// omp_get_max_threads() threads of the calling thread; mrbm's pool does the threading, so the call
// runs with that count set to 1 on this thread and the previous count is put back (the caller's
// thread may be an embedding program's OpenMP thread). oneDNN chooses its kernels from the CPU's
// feature bits (avx512_core, avx2, ...), not from the CPU's model name (docs/benchmarks.md: on an
// Intel VM that OpenBLAS 0.3.21 does not recognize, its generic kernels ran 4-7x slower).
dnnl_status_t dnnl_sgemm_one_thread(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                    float alpha, const float* a, int64_t lda, const float* b,
                                    int64_t ldb, float beta, float* c, int64_t ldc) {
  const int saved = omp_get_max_threads();
  if (saved != 1) omp_set_num_threads(1);
  const SignalsHeld held;
  const dnnl_status_t status =
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (saved != 1) omp_set_num_threads(saved);
  return status;
}
#endif

#if defined(MRBM_HAVE_OPENBLAS) || defined(MRBM_HAVE_DNNL)
// The float32 CPU product by the fastest BLAS of the build: oneDNN, else OpenBLAS.
void blas_sgemm(bool ta, bool tb, const GemmDims& d, float alpha, const float* a, const float* b,
                float beta, float* c) {
#if defined(MRBM_HAVE_DNNL)
  std::atomic<int> failed{dnnl_success};  // parts must not throw: checked after the loop
  blas_gemm_split<float>(
      [&](int64_t m, int64_t n, const float* ab, const float* bb, float* cb) {
        const dnnl_status_t status =
            dnnl_sgemm_one_thread(ta, tb, m, n, d.k, alpha, ab, d.lda, bb, d.ldb, beta, cb, d.ldc);
        if (status != dnnl_success) failed.store(status);
      },
      ta, tb, d, a, b, c);
  MRBM_CHECK(failed.load() == dnnl_success,
             "dnnl_sgemm failed with status " << failed.load() << " (m " << d.m << ", n " << d.n
                                              << ", k " << d.k << ")");
#elif defined(MRBM_HAVE_OPENBLAS)
  use_one_blas_thread();
  const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  blas_gemm_split<float>(
      [&](int64_t m, int64_t n, const float* ab, const float* bb, float* cb) {
        cblas_sgemm(CblasRowMajor, opa, opb, m, n, d.k, alpha, ab, d.lda, bb, d.ldb, beta, cb,
                    d.ldc);
      },
      ta, tb, d, a, b, c);
#endif
}
#endif

#if defined(MRBM_HAVE_OPENBLAS)
// The float64 CPU product (tests and gradient checks; not on a training step's path): OpenBLAS.
void blas_dgemm(bool ta, bool tb, const GemmDims& d, double alpha, const double* a,
                const double* b, double beta, double* c) {
  use_one_blas_thread();
  const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  blas_gemm_split<double>(
      [&](int64_t m, int64_t n, const double* ab, const double* bb, double* cb) {
        cblas_dgemm(CblasRowMajor, opa, opb, m, n, d.k, alpha, ab, d.lda, bb, d.ldb, beta, cb,
                    d.ldc);
      },
      ta, tb, d, a, b, c);
}
#endif

}  // namespace

void gemm_reference_cpu(Tensor& c, const Tensor& a, const Tensor& b, bool ta, bool tb,
                        double alpha, double beta) {
  const GemmDims d = check_gemm(c, a, b, ta, tb);
  MRBM_CHECK(c.is_cpu(), "gemm_reference_cpu needs CPU tensors, got " << c.describe());
  if (c.dtype() == DType::kFloat32) {
    reference<float>(c, a, b, ta, tb, alpha, beta, d);
  } else {
    reference<double>(c, a, b, ta, tb, alpha, beta, d);
  }
}

void gemm(Tensor& c, const Tensor& a, const Tensor& b, bool ta, bool tb, double alpha,
          double beta, CudaContext* cuda) {
  const GemmDims d = check_gemm(c, a, b, ta, tb);
  if (d.m == 0 || d.n == 0) return;
  if (c.is_cpu()) {
    const bool f32 = c.dtype() == DType::kFloat32;
#if defined(MRBM_HAVE_DNNL) || defined(MRBM_HAVE_OPENBLAS)
#if defined(MRBM_HAVE_OPENBLAS)
    const bool blas = true;
#else
    const bool blas = f32;  // oneDNN has no float64 GEMM: float64 runs the plain loops
#endif
    if (blas && d.k == 0) {  // BLAS may skip the beta scaling when k = 0; keep the definition exact
      if (beta == 0.0) {
        c.zero();
      } else {
        gemm_reference_cpu(c, a, b, ta, tb, alpha, beta);
      }
      return;
    }
    // BLAS reads C when beta != 0 only; with beta == 0 a NaN in C is ignored as required.
    if (blas && f32) {
      blas_sgemm(ta, tb, d, static_cast<float>(alpha), a.data<float>(), b.data<float>(),
                 static_cast<float>(beta), c.data<float>());
      return;
    }
#if defined(MRBM_HAVE_OPENBLAS)
    if (blas) {
      blas_dgemm(ta, tb, d, alpha, a.data<double>(), b.data<double>(), beta, c.data<double>());
      return;
    }
#endif
#endif
    (void)f32;
    gemm_reference_cpu(c, a, b, ta, tb, alpha, beta);
    return;
  }
#if defined(MRBM_WITH_CUDA)
  MRBM_CHECK(cuda != nullptr, "gemm on " << c.describe() << " needs a CudaContext");
  MRBM_CHECK(cuda->device() == c.device(),
             "gemm: context on " << to_string(cuda->device()) << ", tensors on "
                                 << to_string(c.device()));
  if (d.k == 0 && beta == 0.0) {
    c.zero(cuda->stream());
    return;
  }
  CudaDeviceGuard device_guard(cuda->device_index());  // the handle's device must be current
  // Column-major view: C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m).
  const cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  MRBM_CHECK(d.m <= INT32_MAX && d.n <= INT32_MAX && d.k <= INT32_MAX,
             "gemm dimensions exceed cuBLAS's 32-bit sizes");
  if (c.dtype() == DType::kFloat32) {
    const float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
    MRBM_CUBLAS_CHECK(cublasSgemm(cuda->cublas(), opb, opa, static_cast<int>(d.n),
                                  static_cast<int>(d.m), static_cast<int>(d.k), &alpha_f,
                                  b.data<float>(), static_cast<int>(d.ldb), a.data<float>(),
                                  static_cast<int>(d.lda), &beta_f, c.data<float>(),
                                  static_cast<int>(d.ldc)));
  } else {
    MRBM_CUBLAS_CHECK(cublasDgemm(cuda->cublas(), opb, opa, static_cast<int>(d.n),
                                  static_cast<int>(d.m), static_cast<int>(d.k), &alpha,
                                  b.data<double>(), static_cast<int>(d.ldb), a.data<double>(),
                                  static_cast<int>(d.lda), &beta, c.data<double>(),
                                  static_cast<int>(d.ldc)));
  }
#else
  (void)cuda;
  MRBM_THROW(CudaError, "gemm on " << c.describe() << " in a CPU-only build");
#endif
}

}  // namespace mrbm
