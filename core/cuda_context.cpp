// CudaContext (core/cuda_context.h): creation, teardown, math mode, workspace growth.
#include "core/cuda_context.h"

#include <utility>

#include "core/allocator.h"
#include "core/error.h"
#include "core/log.h"

#if defined(MRBM_WITH_CUDA)
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif
#if defined(MRBM_WITH_CUDNN)
#include <cudnn.h>
#endif

namespace mrbm {

CudaContext::CudaContext(int device_index) : device_index_(device_index) {
#if defined(MRBM_WITH_CUDA)
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    count = 0;
  }
  if (count == 0) {
    MRBM_THROW(CudaError, "cannot create a CUDA context on cuda:" << device_index
                                                                  << ": no usable CUDA device ("
                                                                  << probe_cuda().reason << ")");
  }
  if (device_index < 0 || device_index >= count) {
    MRBM_THROW(CudaError, "cannot create a CUDA context on cuda:"
                              << device_index << ": only " << count << " CUDA device(s) visible");
  }
  CudaDeviceGuard guard(device_index);
  try {
    cudaStream_t stream = nullptr;
    MRBM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    stream_ = stream;
    cublasHandle_t cublas = nullptr;
    MRBM_CUBLAS_CHECK(cublasCreate(&cublas));
    cublas_ = cublas;
    MRBM_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    MRBM_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
#if defined(MRBM_WITH_CUDNN)
    cudnnHandle_t cudnn = nullptr;
    MRBM_CUDNN_CHECK(cudnnCreate(&cudnn));
    cudnn_ = cudnn;
    MRBM_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
#endif
  } catch (...) {
    release();
    throw;
  }
#else
  MRBM_THROW(CudaError, "cannot create a CUDA context on cuda:" << device_index << ": "
                                                                << probe_cuda().reason);
#endif
}

CudaContext::~CudaContext() { release(); }

CudaContext::CudaContext(CudaContext&& other) noexcept
    : device_index_(std::exchange(other.device_index_, -1)),
      stream_(std::exchange(other.stream_, nullptr)),
      cublas_(std::exchange(other.cublas_, nullptr)),
      cudnn_(std::exchange(other.cudnn_, nullptr)),
      workspace_(std::exchange(other.workspace_, nullptr)),
      workspace_bytes_(std::exchange(other.workspace_bytes_, 0)),
      allow_tf32_(std::exchange(other.allow_tf32_, false)) {}

CudaContext& CudaContext::operator=(CudaContext&& other) noexcept {
  if (this != &other) {
    release();
    device_index_ = std::exchange(other.device_index_, -1);
    stream_ = std::exchange(other.stream_, nullptr);
    cublas_ = std::exchange(other.cublas_, nullptr);
    cudnn_ = std::exchange(other.cudnn_, nullptr);
    workspace_ = std::exchange(other.workspace_, nullptr);
    workspace_bytes_ = std::exchange(other.workspace_bytes_, 0);
    allow_tf32_ = std::exchange(other.allow_tf32_, false);
  }
  return *this;
}

void CudaContext::release() noexcept {
#if defined(MRBM_WITH_CUDA)
  if (stream_ == nullptr && cublas_ == nullptr && cudnn_ == nullptr && workspace_ == nullptr) {
    return;
  }
  int previous = -1;
  if (cudaGetDevice(&previous) != cudaSuccess) (void)cudaGetLastError();
  MRBM_CUDA_CHECK_NOTHROW(cudaSetDevice(device_index_));
  if (stream_ != nullptr) MRBM_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_));
  device_deallocate(workspace_);
  workspace_ = nullptr;
  workspace_bytes_ = 0;
#if defined(MRBM_WITH_CUDNN)
  if (cudnn_ != nullptr) {
    const cudnnStatus_t status = cudnnDestroy(cudnn_);
    if (status != CUDNN_STATUS_SUCCESS) {
      MRBM_LOG_ERROR("cudnnDestroy failed: " << cudnnGetErrorString(status));
    }
  }
#endif
  cudnn_ = nullptr;
  if (cublas_ != nullptr) {
    const cublasStatus_t status = cublasDestroy(cublas_);
    if (status != CUBLAS_STATUS_SUCCESS) {
      MRBM_LOG_ERROR("cublasDestroy failed: " << cublasGetStatusString(status));
    }
    cublas_ = nullptr;
  }
  if (stream_ != nullptr) {
    MRBM_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream_));
    stream_ = nullptr;
  }
  if (previous >= 0 && previous != device_index_) MRBM_CUDA_CHECK_NOTHROW(cudaSetDevice(previous));
#endif
}

void CudaContext::set_allow_tf32(bool allow) {
#if defined(MRBM_WITH_CUDA)
  MRBM_CHECK(cublas_ != nullptr, "set_allow_tf32 on a moved-from CudaContext");
  MRBM_CUBLAS_CHECK(
      cublasSetMathMode(cublas_, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
#endif
  allow_tf32_ = allow;
}

void* CudaContext::workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return workspace_;
  MRBM_CHECK(stream_ != nullptr, "workspace() on a moved-from CudaContext");
  // Allocate first: if that throws, the old workspace stays valid.
  void* grown = device_allocate(static_cast<int64_t>(bytes), device_index_, stream_);
  device_deallocate(workspace_);
  workspace_ = grown;
  workspace_bytes_ = static_cast<size_t>(device_size_class(static_cast<int64_t>(bytes)));
  return workspace_;
}

void CudaContext::synchronize() const {
#if defined(MRBM_WITH_CUDA)
  MRBM_CHECK(stream_ != nullptr, "synchronize() on a moved-from CudaContext");
  CudaDeviceGuard guard(device_index_);
  MRBM_CUDA_CHECK(cudaStreamSynchronize(stream_));
#endif
}

}  // namespace mrbm
