// The exceptions of mrbm (core/ and above throw, kernels/ return codes) and the checking macros.
//
// Hierarchy: mrbm::Error (a std::runtime_error) with InvalidArgument, ShapeError, IoError,
// CudaError and UnsupportedError below it. Every message ends with where it was raised, "(at
// core/x.cpp:42)", and, for the checking macros, the failed expression, so a one-line report from
// the CLI is enough to find the cause.
//
// Macros (the message argument is a stream expression: MRBM_CHECK(n >= 0, "bad n " << n)):
//   MRBM_CHECK(cond, msg)          -> InvalidArgument when cond is false
//   MRBM_THROW(Type, msg)          -> throws Type (one of the errors above) with file:line
//   MRBM_CUDA_CHECK(expr)          -> CudaError with the expression, cudaGetErrorName/String
//   MRBM_CUBLAS_CHECK(expr)        -> CudaError with cublasGetStatusString
//   MRBM_CUDNN_CHECK(expr)         -> CudaError with cudnnGetErrorString
//   MRBM_KERNEL_CHECK(expr)        -> mrbm::kernels::Status: kInvalidArgument -> InvalidArgument,
//                                     kUnsupported -> UnsupportedError
//   MRBM_LAUNCH_CHECK(expr)        -> MRBM_CUDA_CHECK for a kernel launcher's cudaError_t, and
//                                     with MRBM_SYNC_LAUNCHES=1 a device synchronization, so an
//                                     asynchronous fault is reported against this launch
//   MRBM_CUDA_CHECK_NOTHROW(expr)  -> logs (level error) instead of throwing: for destructors
//
// This header needs no CUDA header: status codes travel as int and are decoded in error.cpp, so the
// macros compile in a CPU-only build too (where a nonzero code is only printed as a number).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "kernels/status.h"

namespace mrbm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed a value that violates a documented precondition.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// Two shapes that must agree do not (the message names both), or a shape is invalid.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A file cannot be opened, read or written, or its content is malformed (the message names it).
class IoError : public Error {
 public:
  using Error::Error;
};

// A CUDA runtime, cuBLAS or cuDNN call failed, or no usable device exists.
class CudaError : public Error {
 public:
  using Error::Error;
};

// A valid request that this build (e.g. CPU-only) or this configuration cannot serve.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

namespace detail {

// "core/tensor.cpp:42": the last two components of __FILE__ (the build uses absolute paths, and
// the folder plus the file name is unique in this project and short enough for one line).
std::string source_location(const char* file, int line);

// True when MRBM_SYNC_LAUNCHES=1; the environment is read once, on the first call.
bool sync_launches_enabled();

[[noreturn]] void throw_check_failure(const char* cond, const std::string& msg, const char* file,
                                      int line);
[[noreturn]] void throw_cuda_error(int code, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(int code, const char* expr, const char* file, int line);
[[noreturn]] void throw_cudnn_error(int code, const char* expr, const char* file, int line);
[[noreturn]] void throw_kernel_status(kernels::Status status, const char* expr, const char* file,
                                      int line);
// With MRBM_SYNC_LAUNCHES=1: synchronizes the current device and throws CudaError naming the launch
// when the synchronization reports a fault. Does nothing otherwise.
void sync_after_launch(const char* expr, const char* file, int line);
// Formats the CudaError message of `code` and writes it to the log (destructor path).
void log_cuda_error(int code, const char* expr, const char* file, int line) noexcept;

template <class E>
[[noreturn]] void throw_with_location(const std::string& msg, const char* file, int line) {
  throw E(msg + " (at " + source_location(file, line) + ")");
}

}  // namespace detail
}  // namespace mrbm

#define MRBM_CHECK(cond, msg)                                                               \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::ostringstream mrbm_check_os_;                                                    \
      mrbm_check_os_ << msg;                                                                \
      ::mrbm::detail::throw_check_failure(#cond, mrbm_check_os_.str(), __FILE__, __LINE__); \
    }                                                                                       \
  } while (0)

#define MRBM_THROW(ErrorType, msg)                                                            \
  do {                                                                                        \
    std::ostringstream mrbm_throw_os_;                                                        \
    mrbm_throw_os_ << msg;                                                                    \
    ::mrbm::detail::throw_with_location<ErrorType>(mrbm_throw_os_.str(), __FILE__, __LINE__); \
  } while (0)

#define MRBM_CUDA_CHECK(expr)                                                       \
  do {                                                                              \
    const int mrbm_cuda_code_ = static_cast<int>(expr);                             \
    if (mrbm_cuda_code_ != 0) {                                                     \
      ::mrbm::detail::throw_cuda_error(mrbm_cuda_code_, #expr, __FILE__, __LINE__); \
    }                                                                               \
  } while (0)

#define MRBM_CUBLAS_CHECK(expr)                                                         \
  do {                                                                                  \
    const int mrbm_cublas_code_ = static_cast<int>(expr);                               \
    if (mrbm_cublas_code_ != 0) {                                                       \
      ::mrbm::detail::throw_cublas_error(mrbm_cublas_code_, #expr, __FILE__, __LINE__); \
    }                                                                                   \
  } while (0)

#define MRBM_CUDNN_CHECK(expr)                                                        \
  do {                                                                                \
    const int mrbm_cudnn_code_ = static_cast<int>(expr);                              \
    if (mrbm_cudnn_code_ != 0) {                                                      \
      ::mrbm::detail::throw_cudnn_error(mrbm_cudnn_code_, #expr, __FILE__, __LINE__); \
    }                                                                                 \
  } while (0)

#define MRBM_KERNEL_CHECK(expr)                                                            \
  do {                                                                                     \
    const ::mrbm::kernels::Status mrbm_kernel_status_ = (expr);                            \
    if (mrbm_kernel_status_ != ::mrbm::kernels::Status::kOk) {                             \
      ::mrbm::detail::throw_kernel_status(mrbm_kernel_status_, #expr, __FILE__, __LINE__); \
    }                                                                                      \
  } while (0)

#define MRBM_LAUNCH_CHECK(expr)                                                       \
  do {                                                                                \
    const int mrbm_launch_code_ = static_cast<int>(expr);                             \
    if (mrbm_launch_code_ != 0) {                                                     \
      ::mrbm::detail::throw_cuda_error(mrbm_launch_code_, #expr, __FILE__, __LINE__); \
    }                                                                                 \
    if (::mrbm::detail::sync_launches_enabled()) {                                    \
      ::mrbm::detail::sync_after_launch(#expr, __FILE__, __LINE__);                   \
    }                                                                                 \
  } while (0)

#define MRBM_CUDA_CHECK_NOTHROW(expr)                                             \
  do {                                                                            \
    const int mrbm_cuda_code_ = static_cast<int>(expr);                           \
    if (mrbm_cuda_code_ != 0) {                                                   \
      ::mrbm::detail::log_cuda_error(mrbm_cuda_code_, #expr, __FILE__, __LINE__); \
    }                                                                             \
  } while (0)
