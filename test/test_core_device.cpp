// Tests of core/device.h and core/cuda_context.h: device strings, the CUDA probe (which must return
// a reason, never crash, without a GPU), version strings, and CudaContext creation, workspace
// growth and teardown on a GPU.
#include <string>

#include "core/allocator.h"
#include "core/cuda_context.h"
#include "core/device.h"
#include "core/error.h"
#include "test_support.h"

namespace {
using Catch::Matchers::Contains;
using mrbm::Device;
}  // namespace

TEST_CASE("parse_device accepts cpu, cuda, cuda:N", "[core]") {
  CHECK(mrbm::parse_device("cpu") == Device::cpu());
  CHECK(mrbm::parse_device("cuda") == Device::cuda(0));
  CHECK(mrbm::parse_device("cuda:0") == Device::cuda(0));
  CHECK(mrbm::parse_device("cuda:1") == Device::cuda(1));
  CHECK(mrbm::parse_device("cuda:12") == Device::cuda(12));
  for (const Device d : {Device::cpu(), Device::cuda(0), Device::cuda(3)}) {
    CHECK(mrbm::parse_device(mrbm::to_string(d)) == d);
  }
  CHECK(mrbm::to_string(Device::cuda(2)) == "cuda:2");
  CHECK(mrbm::to_string(Device::cpu()) == "cpu");
}

TEST_CASE("parse_device rejects malformed strings and names them", "[core]") {
  for (const std::string bad : {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:1x", "cuda:+1", "cuda1",
                                " cpu", "cuda:99999", "auto:0"}) {
    INFO("input '" << bad << "'");
    try {
      mrbm::parse_device(bad);
      FAIL("accepted");
    } catch (const mrbm::InvalidArgument& e) {
      CHECK_THAT(std::string(e.what()), Contains("'" + bad + "'"));
    }
  }
}

TEST_CASE("parse_device auto agrees with probe_cuda", "[core]") {
  const mrbm::CudaProbe probe = mrbm::probe_cuda();
  const Device d = mrbm::parse_device("auto");
  if (probe.first_usable() < 0) {
    CHECK(d == Device::cpu());
  } else {
    CHECK(d == Device::cuda(probe.first_usable()));
  }
}

TEST_CASE("probe_cuda returns devices or a reason, and never throws", "[core]") {
  mrbm::CudaProbe probe;
  REQUIRE_NOTHROW(probe = mrbm::probe_cuda());
#if defined(MRBM_WITH_CUDA)
  CHECK(probe.built_with_cuda);
  CHECK(probe.runtime_version > 0);
#else
  CHECK_FALSE(probe.built_with_cuda);
  CHECK(probe.devices.empty());
#endif
  if (probe.usable_count() == 0) {
    CHECK_FALSE(probe.reason.empty());
    CHECK(probe.first_usable() == -1);
  } else {
    CHECK(probe.reason.empty());
  }
  for (const auto& d : probe.devices) {
    CHECK(d.usable == d.problem.empty());
  }
  // Probing twice gives the same answer (the first probe leaves no sticky error behind).
  const mrbm::CudaProbe again = mrbm::probe_cuda();
  CHECK(again.devices.size() == probe.devices.size());
  CHECK(again.reason == probe.reason);
  CHECK(mrbm::test::cuda_device_count() == static_cast<int>(probe.devices.size()));
}

TEST_CASE("version strings", "[core]") {
  CHECK(mrbm::cuda_version_string(13000) == "13.0");
  CHECK(mrbm::cuda_version_string(12040) == "12.4");
  CHECK(mrbm::cuda_version_string(11080) == "11.8");
  CHECK(mrbm::cuda_version_string(0) == "none");
#if defined(MRBM_WITH_CUDA)
  const std::string cublas = mrbm::cublas_version_string();
  CHECK(cublas.find('.') != std::string::npos);
  CHECK(cublas != "not built");
#else
  CHECK(mrbm::cublas_version_string() == "not built");
#endif
#if defined(MRBM_WITH_CUDNN)
  CHECK(mrbm::cudnn_version_string().find('.') != std::string::npos);
#else
  CHECK(mrbm::cudnn_version_string() == "not built");
#endif
}

TEST_CASE("without a usable GPU, CUDA objects throw CudaError with a reason", "[core]") {
  if (mrbm::test::cuda_device_count() > 0) return;  // covered by the [cuda] tests instead
  try {
    mrbm::CudaContext ctx(0);
    FAIL("CudaContext created without a device");
  } catch (const mrbm::CudaError& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Contains("cuda:0"));
    CHECK_THAT(msg, Contains(mrbm::probe_cuda().reason));
  }
  CHECK_THROWS_AS(mrbm::CudaDeviceGuard(0), mrbm::CudaError);
  CHECK_THROWS_AS(mrbm::device_allocate(1024, 0, nullptr), mrbm::CudaError);
}

TEST_CASE("probe_cuda describes each GPU", "[core][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  const mrbm::CudaProbe probe = mrbm::probe_cuda();
  REQUIRE(probe.usable_count() >= 1);
  CHECK(probe.driver_version > 0);
  for (const auto& d : probe.devices) {
    INFO("cuda:" << d.index << " " << d.name);
    CHECK_FALSE(d.name.empty());
    CHECK(d.compute_major >= 5);
    // Every GPU mrbm targets has more than 1 GiB; the simulator's default device has exactly
    // 1 GiB (CUDA_SIM_MEMORY_MIB), small so that out-of-memory paths run.
    CHECK(d.total_memory_bytes >= (int64_t{1} << 30));
    CHECK(d.free_memory_bytes <= d.total_memory_bytes);
    CHECK(d.sm_count > 0);
  }
  const Device d = mrbm::parse_device("auto");
  CHECK(d.is_cuda());
}

TEST_CASE("CudaContext owns a stream and handles and grows its workspace", "[core][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  const int64_t baseline = mrbm::device_allocator_stats(0).bytes_in_use;
  {
    mrbm::CudaContext ctx(0);
    CHECK(ctx.device() == Device::cuda(0));
    CHECK(ctx.stream() != nullptr);
    CHECK(ctx.cublas() != nullptr);
#if defined(MRBM_WITH_CUDNN)
    CHECK(ctx.has_cudnn());
#else
    CHECK_FALSE(ctx.has_cudnn());
#endif
    CHECK_FALSE(ctx.allow_tf32());
    ctx.set_allow_tf32(true);
    CHECK(ctx.allow_tf32());
    ctx.set_allow_tf32(false);

    CHECK(ctx.workspace(0) == nullptr);
    void* small = ctx.workspace(1000);
    REQUIRE(small != nullptr);
    CHECK(ctx.workspace_size() >= 1000);
    CHECK(ctx.workspace(500) == small);  // a smaller request keeps the block
    void* large = ctx.workspace(size_t{10} << 20);
    REQUIRE(large != nullptr);
    CHECK(ctx.workspace_size() >= (size_t{10} << 20));
    // The whole workspace is writable on the context's stream.
#if defined(MRBM_WITH_CUDA)
    REQUIRE(cudaMemsetAsync(large, 0x7f, size_t{10} << 20, ctx.stream()) == cudaSuccess);
#endif
    REQUIRE_NOTHROW(ctx.synchronize());
    CHECK(mrbm::device_allocator_stats(0).bytes_in_use >= baseline + (int64_t{10} << 20));

    mrbm::CudaContext moved(std::move(ctx));
    CHECK(moved.stream() != nullptr);
    CHECK(ctx.stream() == nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state
    CHECK(moved.workspace(1) == large);
    REQUIRE_NOTHROW(moved.synchronize());
  }
  CHECK(mrbm::device_allocator_stats(0).bytes_in_use == baseline);
}

TEST_CASE("CudaContext on a missing device index throws CudaError", "[core][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  const int count = mrbm::test::cuda_device_count();
  try {
    mrbm::CudaContext ctx(count);
    FAIL("created a context on a missing device");
  } catch (const mrbm::CudaError& e) {
    CHECK_THAT(std::string(e.what()), Contains("cuda:" + std::to_string(count)));
  }
}
