// The throwing side of core/error.h: message formatting, CUDA/cuBLAS/cuDNN code decoding, and the
// MRBM_SYNC_LAUNCHES switch. Message shape: "<what failed>: <detail> (at <file>:<line>)".
#include "core/error.h"

#include <cstdlib>
#include <cstring>

#include "core/log.h"

#if defined(MRBM_WITH_CUDA)
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif
#if defined(MRBM_WITH_CUDNN)
#include <cudnn.h>
#endif

namespace mrbm::detail {
namespace {

std::string cuda_message(int code, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "CUDA error " << code;
#if defined(MRBM_WITH_CUDA)
  const auto error = static_cast<cudaError_t>(code);
  os << " " << cudaGetErrorName(error) << " (" << cudaGetErrorString(error) << ")";
#endif
  os << " in `" << expr << "` (at " << source_location(file, line) << ")";
  return os.str();
}

}  // namespace

std::string source_location(const char* file, int line) {
  // Keep from the second-to-last '/' on: "/work/main/core/tensor.cpp" -> "core/tensor.cpp".
  const size_t length = std::strlen(file);
  size_t start = 0;
  int slashes = 0;
  for (size_t i = length; i > 0; --i) {
    if (file[i - 1] == '/' && ++slashes == 2) {
      start = i;
      break;
    }
  }
  return std::string(file + start) + ":" + std::to_string(line);
}

bool sync_launches_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("MRBM_SYNC_LAUNCHES");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }();
  return enabled;
}

void throw_check_failure(const char* cond, const std::string& msg, const char* file, int line) {
  throw InvalidArgument(msg + " (check `" + cond + "` failed at " + source_location(file, line) +
                        ")");
}

void throw_cuda_error(int code, const char* expr, const char* file, int line) {
#if defined(MRBM_WITH_CUDA)
  // The failing call also set the runtime's last error; clear it so that a later, unrelated
  // cudaGetLastError() (a launcher's launch check) does not report this failure a second time.
  (void)cudaGetLastError();
#endif
  throw CudaError(cuda_message(code, expr, file, line));
}

void throw_cublas_error(int code, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "cuBLAS error " << code;
#if defined(MRBM_WITH_CUDA)
  os << " (" << cublasGetStatusString(static_cast<cublasStatus_t>(code)) << ")";
#endif
  os << " in `" << expr << "` (at " << source_location(file, line) << ")";
  throw CudaError(os.str());
}

void throw_cudnn_error(int code, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "cuDNN error " << code;
#if defined(MRBM_WITH_CUDNN)
  os << " (" << cudnnGetErrorString(static_cast<cudnnStatus_t>(code)) << ")";
#endif
  os << " in `" << expr << "` (at " << source_location(file, line) << ")";
  throw CudaError(os.str());
}

void throw_kernel_status(kernels::Status status, const char* expr, const char* file, int line) {
  const std::string msg = std::string("kernel returned ") + kernels::status_string(status) +
                          " in `" + expr + "` (at " + source_location(file, line) + ")";
  if (status == kernels::Status::kUnsupported) throw UnsupportedError(msg);
  throw InvalidArgument(msg);
}

void sync_after_launch(const char* expr, const char* file, int line) {
#if defined(MRBM_WITH_CUDA)
  if (!sync_launches_enabled()) return;
  const cudaError_t code = cudaDeviceSynchronize();
  if (code != cudaSuccess) {
    (void)cudaGetLastError();
    throw CudaError("asynchronous fault after launch (MRBM_SYNC_LAUNCHES=1): " +
                    cuda_message(static_cast<int>(code), expr, file, line));
  }
#else
  (void)expr;
  (void)file;
  (void)line;
#endif
}

void log_cuda_error(int code, const char* expr, const char* file, int line) noexcept {
  try {
#if defined(MRBM_WITH_CUDA)
    (void)cudaGetLastError();
#endif
    log_message(LogLevel::kError, cuda_message(code, expr, file, line));
  } catch (...) {
    log_message(LogLevel::kError, "CUDA error (message formatting failed)");
  }
}

}  // namespace mrbm::detail
