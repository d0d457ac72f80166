// CUDA simulator: cuBLAS. A handle belongs to the device current at cublasCreate; a GEMM checks
// its arguments as cuBLAS documents (CUBLAS_STATUS_INVALID_VALUE for negative sizes or a leading
// dimension below max(1, rows)), reads alpha and beta now (host pointer mode) and runs later on
// the handle's stream, column-major: C = alpha op(A) op(B) + beta C, C not read when beta = 0.
// Accumulation is in the element type, in order of k; real cuBLAS blocks the sum differently, so
// tests compare its results with a tolerance, never bit for bit. TF32 math mode rounds the float
// inputs to TF32 (10 mantissa bits, to nearest, ties away, as cvt.rna.tf32.f32) before the sum.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <vector>

#include "cublas_v2.h"
#include "state.h"

struct cublasContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasMath_t mode = CUBLAS_DEFAULT_MATH;
};

using namespace cuda_sim::detail;

namespace {

std::set<cublasContext*>& live_handles() {
  static auto* h = new std::set<cublasContext*>;  // never destroyed (src/state.cpp)
  return *h;
}

float round_to_tf32(float x) {
  if (!std::isfinite(x)) return x;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits = (bits + 0x1000u) & ~0x1fffu;  // 13 dropped bits: add half, truncate (ties away)
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

template <class T>
size_t extent(int rows, int cols, int ld) {  // elements a column-major rows x cols operand spans
  return rows == 0 || cols == 0 ? 0 : static_cast<size_t>(ld) * (cols - 1) + rows;
}

template <class T>
cublasStatus_t gemm(const char* fn, cublasHandle_t handle, cublasOperation_t ta,
                    cublasOperation_t tb, int m, int n, int k, const T* alpha, const T* A,
                    int lda, const T* B, int ldb, const T* beta, T* C, int ldc) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!live_handles().count(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  auto valid_op = [](cublasOperation_t op) { return op >= CUBLAS_OP_N && op <= CUBLAS_OP_C; };
  const int rows_a = ta == CUBLAS_OP_N ? m : k, cols_a = ta == CUBLAS_OP_N ? k : m;
  const int rows_b = tb == CUBLAS_OP_N ? k : n, cols_b = tb == CUBLAS_OP_N ? n : k;
  std::ostringstream why;
  if (!valid_op(ta) || !valid_op(tb)) why << "invalid operation";
  else if (m < 0 || n < 0 || k < 0) why << "negative size m=" << m << " n=" << n << " k=" << k;
  else if (lda < std::max(1, rows_a)) why << "lda=" << lda << " < max(1, " << rows_a << ")";
  else if (ldb < std::max(1, rows_b)) why << "ldb=" << ldb << " < max(1, " << rows_b << ")";
  else if (ldc < std::max(1, m)) why << "ldc=" << ldc << " < max(1, " << m << ")";
  else if (!alpha || !beta) why << "alpha or beta is null";
  if (!why.str().empty()) {
    report(std::string(fn) + ": " + why.str() + ": CUBLAS_STATUS_INVALID_VALUE");
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const int dev = handle->device;
  if (!valid_stream(handle->stream)) return CUBLAS_STATUS_EXECUTION_FAILED;
  Stream* s = resolve(handle->stream);
  if (current_device() != dev || s->device != dev) {
    report(std::string(fn) + ": handle of cuda:" + std::to_string(dev) + ", stream of cuda:" +
           std::to_string(s->device) + ", cuda:" + std::to_string(current_device()) +
           " current: the GEMM kernel cannot launch");
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  // Operands must be device memory of the handle's device; a GPU faults on anything else.
  std::string bad;
  auto check = [&](const void* p, size_t elements, const char* what) {
    if (elements == 0 || !bad.empty()) return;
    if (device_of(p) != dev || !inside_allocation(p, elements * sizeof(T)))
      bad = std::string(what) + " is not device memory of cuda:" + std::to_string(dev);
  };
  if (k > 0) {
    check(A, extent<T>(rows_a, cols_a, lda), "A");
    check(B, extent<T>(rows_b, cols_b, ldb), "B");
  }
  check(C, extent<T>(m, n, ldc), "C");
  const T a = *alpha, b = *beta;
  const bool tf32 = sizeof(T) == 4 && handle->mode == CUBLAS_TF32_TENSOR_OP_MATH;
  enqueue(s, Op{[=]() {
                  if (!bad.empty()) {
                    report(std::string(fn) + ": " + bad + " (an illegal address)");
                    return cudaErrorIllegalAddress;
                  }
                  auto in = [tf32](T v) {
                    return tf32 ? static_cast<T>(round_to_tf32(static_cast<float>(v))) : v;
                  };
                  // Every C(i, j) is sum_{p = 0..k-1} op(A)(i, p) op(B)(p, j), added in
                  // increasing p from 0. With op(A) = A the loops run p outside i, so that A is
                  // read down its columns (contiguous); the order of each sum is the same.
                  auto b_at = [&](int p, int j) {
                    return in(tb == CUBLAS_OP_N ? B[p + static_cast<size_t>(j) * ldb]
                                                : B[j + static_cast<size_t>(p) * ldb]);
                  };
                  std::vector<T> sum(static_cast<size_t>(m));
                  for (int j = 0; j < n; ++j) {
                    if (ta == CUBLAS_OP_N) {
                      std::fill(sum.begin(), sum.end(), T(0));
                      for (int p = 0; p < k; ++p) {
                        const T bv = b_at(p, j);
                        const T* col = A + static_cast<size_t>(p) * lda;
                        for (int i = 0; i < m; ++i) sum[i] += in(col[i]) * bv;
                      }
                    } else {
                      for (int i = 0; i < m; ++i) {
                        const T* row = A + static_cast<size_t>(i) * lda;
                        T acc = 0;
                        for (int p = 0; p < k; ++p) acc += in(row[p]) * b_at(p, j);
                        sum[i] = acc;
                      }
                    }
                    for (int i = 0; i < m; ++i) {
                      T& c = C[i + static_cast<size_t>(j) * ldc];
                      c = b == T(0) ? a * sum[i] : a * sum[i] + b * c;
                    }
                  }
                  return cudaSuccess;
                },
                {},
                fn});
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  auto* h = new cublasContext;
  h->device = current_device();
  live_handles().insert(h);
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!live_handles().erase(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!live_handles().count(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!live_handles().count(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!live_handles().count(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode < CUBLAS_DEFAULT_MATH || mode > CUBLAS_TF32_TENSOR_OP_MATH)
    return CUBLAS_STATUS_INVALID_VALUE;
  handle->mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!live_handles().count(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->mode;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    default: return cublasGetStatusName(status);
  }
}

// The simulated cuBLAS reports itself as 13.0.0 (the CUDA 13 it stands in for).
cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
  if (!value) return CUBLAS_STATUS_INVALID_VALUE;
  switch (type) {
    case MAJOR_VERSION: *value = 13; return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION: *value = 0; return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL: *value = 0; return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  return gemm("cublasSgemm", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const double* alpha,
                           const double* A, int lda, const double* B, int ldb, const double* beta,
                           double* C, int ldc) {
  return gemm("cublasDgemm", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
