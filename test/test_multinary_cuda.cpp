// The CUDA fused multinary pass against its CPU twin [cuda]: every unit kind and sampler, sizes
// 0, 1, odd and large, fresh random inputs, outputs poisoned (NaN) before the call, and the same
// samples for the same seed. Compiled in every build; skips without a device.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/multinary.h"
#include "test/multinary_cases.h"
#include "test/test_support.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/multinary_cuda.h"

namespace {

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t count = 0;
  explicit DeviceBuffer(size_t n) : count(n) {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&ptr), sizeof(T) * (n > 0 ? n : 1)) == cudaSuccess);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(ptr); }
  void upload(const std::vector<T>& v) {
    REQUIRE(cudaMemcpy(ptr, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> v(count);
    REQUIRE(cudaMemcpy(v.data(), ptr, sizeof(T) * count, cudaMemcpyDeviceToHost) == cudaSuccess);
    return v;
  }
};

// CPU and GPU evaluate the same MRBM_HD formula; they differ only in the last bits of exp/log
// (CUDA's are within 1-2 ulp, glibc's within 1 ulp) and in the order of the float64 row sums:
// 2e-6 relative for float outputs (a few float ulps), 1e-10 for the float64 row sums.
bool close(double gpu, double cpu, double rel) {
  if (std::isnan(cpu)) return std::isnan(gpu);
  if (std::isinf(cpu)) return gpu == cpu;
  return std::fabs(gpu - cpu) <= rel * std::fabs(cpu) + 1e-30;
}

}  // namespace
#endif

using namespace mrbm::kernels;

TEST_CASE("CUDA fused multinary pass equals the CPU reference", "[multinary][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  // Rows of 1031 and 4099 span 2 and 5 blocks of 1024 columns (kernels/multinary.cuh). 128 rows
  // on GPUs, 3 in the simulator (mrbm::test::gpu_scale_cases: every unit kind and sampler at
  // 128 x 4099 is 10M fibers of the exact samplers).
  const std::vector<std::pair<int64_t, int64_t>> sizes = {
      {0, 5}, {3, 0}, {1, 1}, {3, 7}, {5, 1031}, {mrbm::test::gpu_scale_cases() ? 128 : 3, 4099}};
  uint64_t seed = 1;
  for (const auto& uc : mrbm::test::all_unit_cases()) {
    DeviceBuffer<double> table(uc.table ? uc.table->size() : 1);
    UnitSpec device_unit = uc.unit;
    if (uc.table) {
      table.upload(*uc.table);
      device_unit.table = table.ptr;
    }
    for (auto [rows, cols] : sizes) {
      for (Sampler sampler : {Sampler::kNone, Sampler::kMean, Sampler::kGaussian, Sampler::kExact}) {
        if (!mrbm::test::supports_sampler(uc.unit, sampler)) continue;
        INFO(uc.name << " rows=" << rows << " cols=" << cols << " sampler=" << int(sampler));
        const int64_t n = rows * cols;
        const auto x = mrbm::test::random_floats(n, uc.x_lo, uc.x_hi, ++seed);
        const auto bias = mrbm::test::random_floats(cols, -1.0f, 1.0f, ++seed);
        std::vector<float> mean(n), var(n), sample(n);
        std::vector<double> row_phi(rows);
        MultinaryArgs a;
        a.mean = mean.data();
        a.var = var.data();
        a.row_phi = row_phi.data();
        a.sample = sampler == Sampler::kNone ? nullptr : sample.data();
        a.sampler = sampler;
        a.x = x.data();
        a.bias = cols > 0 ? bias.data() : nullptr;
        a.rows = rows;
        a.cols = cols;
        a.unit = uc.unit;
        a.seed = seed;
        a.offset = 3;
        REQUIRE(multinary_forward_cpu(a) == Status::kOk);

        DeviceBuffer<float> d_x(n), d_bias(cols), d_mean(n), d_var(n), d_sample(n);
        DeviceBuffer<double> d_phi(rows);
        d_x.upload(x);
        d_bias.upload(bias);
        d_mean.upload(mrbm::test::poisoned(n));
        d_var.upload(mrbm::test::poisoned(n));
        d_sample.upload(mrbm::test::poisoned(n));
        d_phi.upload(std::vector<double>(rows, std::numeric_limits<double>::quiet_NaN()));
        MultinaryArgs d = a;
        d.mean = d_mean.ptr;
        d.var = d_var.ptr;
        d.row_phi = d_phi.ptr;
        d.sample = sampler == Sampler::kNone ? nullptr : d_sample.ptr;
        d.x = d_x.ptr;
        d.bias = cols > 0 ? d_bias.ptr : nullptr;
        d.unit = device_unit;
        REQUIRE(multinary_forward_cuda(d, nullptr) == cudaSuccess);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);

        const auto g_mean = d_mean.download(), g_var = d_var.download();
        const auto g_sample = d_sample.download();
        const auto g_phi = d_phi.download();
        int64_t sample_mismatches = 0;
        for (int64_t i = 0; i < n; ++i) {
          REQUIRE(close(g_mean[i], mean[i], 2e-6));
          REQUIRE(close(g_var[i], var[i], 2e-6));
          if (sampler == Sampler::kExact) sample_mismatches += g_sample[i] != sample[i];
          if (sampler == Sampler::kMean) REQUIRE(close(g_sample[i], sample[i], 2e-6));
          // h = f + sqrt(f') xi: the ulp differences of f and f' carry over at the scale of the
          // terms, not of h (which can be near 0 after cancellation); |xi| < 8 in 1e6 draws.
          if (sampler == Sampler::kGaussian)
            REQUIRE(std::fabs(g_sample[i] - sample[i]) <=
                    4e-6 * (std::fabs(mean[i]) + 8.0 * std::sqrt(var[i])) + 1e-30);
        }
        // Exact samples are integers drawn from the same Philox numbers: a mismatch needs a
        // uniform to fall within ~1e-15 of a probability, so none is expected.
        CHECK(sample_mismatches == 0);
        for (int64_t r = 0; r < rows; ++r) REQUIRE(close(g_phi[r], row_phi[r], 1e-10));
      }
    }
  }
#endif
}

// Issue 12, 6g: a row of more than 1024 columns spans several blocks, which used to add their
// partial sums to row_phi with atomics in whatever order they finished, so free energies and
// losses differed in the last bits from run to run. With row_partials the blocks' sums are added
// in block order: the same bits on every launch. (In the simulator every launch runs the blocks
// in another shuffled order, so the atomic version fails here; on a GPU it fails by chance.)
TEST_CASE("CUDA row free energies have the same bits on every launch", "[multinary][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  const auto uc = mrbm::test::all_unit_cases().front();
  const int64_t rows = 3, cols = 40 * kMultinaryColumnsPerBlock + 17;  // 41 blocks per row
  REQUIRE(multinary_row_partials_count(rows, cols) == rows * 41);
  // Pre-activations over several orders of magnitude, so that the order of the sum matters.
  auto x = mrbm::test::random_floats(rows * cols, -30.0f, 30.0f, 77);
  for (size_t i = 0; i < x.size(); i += 97) x[i] *= 1000.0f;
  DeviceBuffer<float> d_x(x.size());
  d_x.upload(x);
  DeviceBuffer<double> d_phi(rows), d_partials(multinary_row_partials_count(rows, cols));
  DeviceBuffer<double> table(uc.table ? uc.table->size() : 1);
  MultinaryArgs a;
  a.x = d_x.ptr;
  a.rows = rows;
  a.cols = cols;
  a.unit = uc.unit;
  if (uc.table) {
    table.upload(*uc.table);
    a.unit.table = table.ptr;
  }
  a.row_phi = d_phi.ptr;
  a.row_partials = d_partials.ptr;
  std::vector<std::vector<double>> runs;
  for (int run = 0; run < 4; ++run) {
    d_phi.upload(std::vector<double>(rows, std::numeric_limits<double>::quiet_NaN()));
    REQUIRE(multinary_forward_cuda(a, nullptr) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    runs.push_back(d_phi.download());
  }
  std::vector<double> cpu_phi(rows);
  MultinaryArgs c = a;
  c.x = x.data();
  c.unit = uc.unit;
  c.row_phi = cpu_phi.data();
  c.row_partials = nullptr;
  REQUIRE(multinary_forward_cpu(c) == Status::kOk);
  for (int run = 1; run < 4; ++run) {
    for (int64_t r = 0; r < rows; ++r) {
      INFO("run " << run << " row " << r);
      CHECK(std::memcmp(&runs[run][r], &runs[0][r], sizeof(double)) == 0);
    }
  }
  for (int64_t r = 0; r < rows; ++r) CHECK(close(runs[0][r], cpu_phi[r], 1e-10));
#endif
}

TEST_CASE("CUDA launcher rejects invalid arguments", "[multinary][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
#if defined(MRBM_WITH_CUDA)
  MultinaryArgs a;  // no output at all
  a.rows = 1;
  a.cols = 1;
  CHECK(multinary_forward_cuda(a, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);  // nothing was launched
#endif
}
