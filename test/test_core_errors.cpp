// Tests of core/error.h and core/log.h: every checking macro throws the right type, and its message
// names the failed expression and the file:line where it was raised; logging levels parse.
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "test_support.h"

namespace {

using Catch::Matchers::Contains;

// Stand-ins for library calls returning a status code (CUDA, cuBLAS, cuDNN, a launcher).
int fake_status(int code) { return code; }

using mrbm::test::message_of;

std::string here(int line) { return "test/test_core_errors.cpp:" + std::to_string(line); }

}  // namespace

TEST_CASE("error types derive from mrbm::Error and std::runtime_error", "[core]") {
  CHECK_THROWS_AS(throw mrbm::InvalidArgument("x"), mrbm::Error);
  CHECK_THROWS_AS(throw mrbm::ShapeError("x"), mrbm::Error);
  CHECK_THROWS_AS(throw mrbm::IoError("x"), mrbm::Error);
  CHECK_THROWS_AS(throw mrbm::CudaError("x"), mrbm::Error);
  CHECK_THROWS_AS(throw mrbm::UnsupportedError("x"), std::runtime_error);
}

TEST_CASE("MRBM_CHECK names the condition, the message and file:line", "[core]") {
  const int n = -3;
  int line = 0;
  const std::string msg = message_of<mrbm::InvalidArgument>([&] {
    // clang-format off
    line = __LINE__; MRBM_CHECK(n >= 0, "bad size " << n);
    // clang-format on
  });
  CHECK_THAT(msg, Contains("bad size -3"));
  CHECK_THAT(msg, Contains("`n >= 0`"));
  CHECK_THAT(msg, Contains(here(line)));
  CHECK_NOTHROW([&] { MRBM_CHECK(n < 0, "never shown"); }());
}

TEST_CASE("MRBM_CHECK evaluates its condition once", "[core]") {
  int calls = 0;
  auto count = [&] { return ++calls > 0; };
  MRBM_CHECK(count(), "unreachable");
  CHECK(calls == 1);
}

TEST_CASE("MRBM_THROW throws the named type with file:line", "[core]") {
  int line = 0;
  const std::string msg = message_of<mrbm::ShapeError>([&] {
    // clang-format off
    line = __LINE__; MRBM_THROW(mrbm::ShapeError, "shape " << 3 << " vs " << 4);
    // clang-format on
  });
  CHECK_THAT(msg, Contains("shape 3 vs 4"));
  CHECK_THAT(msg, Contains(here(line)));
}

TEST_CASE("MRBM_CUDA_CHECK records the expression, the code and file:line", "[core]") {
  int line = 0;
  // 2 is cudaErrorMemoryAllocation in every CUDA version.
  const std::string msg = message_of<mrbm::CudaError>([&] {
    // clang-format off
    line = __LINE__; MRBM_CUDA_CHECK(fake_status(2));
    // clang-format on
  });
  CHECK_THAT(msg, Contains("CUDA error 2"));
  CHECK_THAT(msg, Contains("`fake_status(2)`"));
  CHECK_THAT(msg, Contains(here(line)));
#if defined(MRBM_WITH_CUDA)
  CHECK_THAT(msg, Contains("cudaErrorMemoryAllocation"));
#endif
  CHECK_NOTHROW([] { MRBM_CUDA_CHECK(fake_status(0)); }());
}

TEST_CASE("MRBM_CUBLAS_CHECK and MRBM_CUDNN_CHECK throw CudaError naming the library", "[core]") {
  const std::string cublas = message_of<mrbm::CudaError>([] { MRBM_CUBLAS_CHECK(fake_status(7)); });
  CHECK_THAT(cublas, Contains("cuBLAS error 7"));
  CHECK_THAT(cublas, Contains("`fake_status(7)`"));
  const std::string cudnn = message_of<mrbm::CudaError>([] { MRBM_CUDNN_CHECK(fake_status(3)); });
  CHECK_THAT(cudnn, Contains("cuDNN error 3"));
  CHECK_NOTHROW([] { MRBM_CUBLAS_CHECK(fake_status(0)); }());
  CHECK_NOTHROW([] { MRBM_CUDNN_CHECK(fake_status(0)); }());
}

TEST_CASE("MRBM_KERNEL_CHECK maps kernels::Status to the error type", "[core]") {
  using mrbm::kernels::Status;
  int line = 0;
  const std::string msg = message_of<mrbm::InvalidArgument>([&] {
    // clang-format off
    line = __LINE__; MRBM_KERNEL_CHECK(Status::kInvalidArgument);
    // clang-format on
  });
  CHECK_THAT(msg, Contains("invalid argument"));
  CHECK_THAT(msg, Contains("Status::kInvalidArgument"));
  CHECK_THAT(msg, Contains(here(line)));
  CHECK_THROWS_AS([] { MRBM_KERNEL_CHECK(Status::kUnsupported); }(), mrbm::UnsupportedError);
  CHECK_NOTHROW([] { MRBM_KERNEL_CHECK(Status::kOk); }());
}

TEST_CASE("MRBM_LAUNCH_CHECK throws on a failed launch code", "[core]") {
  // 209 is cudaErrorNoKernelImageForDevice; the macro must not care which code it is.
  const std::string msg = message_of<mrbm::CudaError>([] { MRBM_LAUNCH_CHECK(fake_status(209)); });
  CHECK_THAT(msg, Contains("`fake_status(209)`"));
  CHECK_THAT(msg, Contains("test_core_errors.cpp:"));
  CHECK_NOTHROW([] { MRBM_LAUNCH_CHECK(fake_status(0)); }());
}

TEST_CASE("MRBM_CUDA_CHECK_NOTHROW logs instead of throwing", "[core]") {
  const mrbm::LogLevel saved = mrbm::log_level();
  mrbm::set_log_level(mrbm::LogLevel::kError);
  CHECK_NOTHROW([] { MRBM_CUDA_CHECK_NOTHROW(fake_status(2)); }());
  mrbm::set_log_level(saved);
}

TEST_CASE("source_location keeps the folder and the file name", "[core]") {
  using mrbm::detail::source_location;
  CHECK(source_location("/work/main/core/tensor.cpp", 42) == "core/tensor.cpp:42");
  CHECK(source_location("core/tensor.cpp", 7) == "core/tensor.cpp:7");
  CHECK(source_location("tensor.cpp", 7) == "tensor.cpp:7");
}

TEST_CASE("log levels parse and filter", "[core]") {
  using mrbm::LogLevel;
  CHECK(mrbm::parse_log_level("error") == LogLevel::kError);
  CHECK(mrbm::parse_log_level("WARN") == LogLevel::kWarn);
  CHECK(mrbm::parse_log_level("warning") == LogLevel::kWarn);
  CHECK(mrbm::parse_log_level("2") == LogLevel::kInfo);
  CHECK(mrbm::parse_log_level("debug") == LogLevel::kDebug);
  CHECK_FALSE(mrbm::parse_log_level("verbose").has_value());
  CHECK_FALSE(mrbm::parse_log_level("").has_value());
  CHECK_FALSE(mrbm::parse_log_level("4").has_value());

  const LogLevel saved = mrbm::log_level();
  mrbm::set_log_level(LogLevel::kWarn);
  CHECK(mrbm::log_enabled(LogLevel::kError));
  CHECK(mrbm::log_enabled(LogLevel::kWarn));
  CHECK_FALSE(mrbm::log_enabled(LogLevel::kInfo));
  // A disabled stream-style message must not evaluate its arguments.
  int evaluated = 0;
  MRBM_LOG_DEBUG("value " << ++evaluated);
  CHECK(evaluated == 0);
  mrbm::set_log_level(saved);
}
